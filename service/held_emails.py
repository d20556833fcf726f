"""Ops' decision on an email held because its send was cut off: send it now, or record that it arrived."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.email import SettleHeldEmail
from mail.delivery import SmtpDelivery
from persistence.audit_log import AuditLog
from persistence.sent_mail import SentEmail
from service.refusals import temporal_refusals
from workflows.escalation_workflow import HELD_EMAIL_EVENTS, EscalationWorkflow


async def settle_held_email(
    client: Client, delivery: SmtpDelivery, audit: AuditLog, held: SentEmail, send: bool, by: str
) -> str:
    """A running escalation carries the decision out itself, so its audit log stays in its own order
    ("queued"); a finished one's is carried out here and written after its last step ("sent",
    "held", "confirmed", "not_held")."""
    decision = SettleHeldEmail(message_id=held.message_id, send=send, by=by)
    try:
        await client.get_workflow_handle(held.escalation_id).signal(EscalationWorkflow.settle_held_email, decision)
        return "queued"
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # not found: the escalation has finished
            with temporal_refusals(held.escalation_id):
                raise
    settled = await delivery.settle(held.message_id, send)
    event = HELD_EMAIL_EVENTS.get(settled)
    if event is not None:
        audit.append_next(held.escalation_id, datetime.now(UTC), event, by, {"message_id": held.message_id})
    return settled
