"""Withdrawing links and replacing contacts: an officer stops every link one recipient holds for one
escalation (the contact left, the email was forwarded), and names who takes over: later emails go to
them, with links of their own. Withdrawals are in the security log; a replacement is in the escalation's
own audit trail, written by its workflow."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio.client import Client

from domain.contacts import Contact
from persistence.revoked_links import RevokedLinks
from persistence.security_log import SecurityLog
from persistence.sent_mail import SentMailLedger
from persistence.users import Users
from service.gate import Replacement, WithdrawLinks, admit, refuse_field
from service.refusals import temporal_refusals
from workflows.escalation_workflow import EscalationWorkflow, ReplaceContact


def withdraw_links(
    engine: Engine,
    escalation_id: str,
    by: str,
    recipient: str,
    reason: str,
    contact_instead: str,
    client: str | None,
    typed: bool = True,
) -> bool:
    """True if the links are withdrawn now; False if they had been already. An address this escalation sent no
    link to is refused, naming those it did: a mistyped address had been answered "withdrawn" while the real
    contact's links still worked. Without `typed` (the address is the engine's own: a practice's standing link),
    it is not checked."""
    wanted = admit(
        WithdrawLinks,
        {"recipient": recipient, "reason": reason, "contact_instead": contact_instead.strip() or None},
    )
    sent_to = linked(engine, escalation_id) if typed else set()
    if typed and wanted.recipient.lower() not in sent_to:
        raise refuse_field(
            "recipient",
            f"no link for this escalation went to {wanted.recipient}"
            + (f"; links went to {', '.join(sorted(sent_to))}" if sent_to else "; none has been sent yet"),
        )
    now = datetime.now(UTC)
    fresh = RevokedLinks(engine).revoke(escalation_id, wanted.recipient, now, by, wanted.reason, wanted.contact_instead)
    if fresh:
        SecurityLog(engine).record(
            "links_withdrawn",
            now,
            email=wanted.recipient,
            by=by,
            client=client,
            escalation_id=escalation_id,
            reason=wanted.reason,
        )
    return fresh


def linked(engine: Engine, escalation_id: str) -> set[str]:
    """Who this escalation emailed a link (each email carries one, for its addressee alone), lower case."""
    return {row.recipient.lower() for row in SentMailLedger(engine).for_escalation(escalation_id)}


async def replace_contact(
    client: Client,
    engine: Engine,
    escalation_id: str,
    by: str,
    form: dict[str, str],
    client_address: str | None,
    submission_id: str | None = None,
) -> str:
    """The new contact takes over; the old one's links are withdrawn unless the officer keeps them.
    `submission_id` (the form's one-time id) is the update's id: the same form sent twice changes it once."""
    wanted = admit(
        Replacement,
        {
            "recipient": form.get("recipient", ""),
            "new_name": form.get("new_name", ""),
            "new_email": form.get("new_email", ""),
            "reason": form.get("reason", ""),
            "withdraw_old": form.get("keep_old_links", "") not in ("on", "true", "1"),
        },
        renamed={"recipient": "recipient"},
    )
    if Users(engine).get(wanted.new_email) is not None:
        raise refuse_field(
            "new_email",
            f"{wanted.new_email} signs in to this console: the payer's contact is someone at the ICB or trust, "
            "never the LMC's own (they would answer the payer's links)",
        )
    new = Contact(name=wanted.new_name, title="Contact", email=wanted.new_email)
    request = ReplaceContact(
        old_email=wanted.recipient, new=new, by=by, reason=wanted.reason, keep_old_links=not wanted.withdraw_old
    )
    with temporal_refusals(escalation_id):
        said = await client.get_workflow_handle(escalation_id).execute_update(
            EscalationWorkflow.replace_contact,
            request,
            id=f"{escalation_id}:{submission_id}" if submission_id else None,
        )
    if wanted.withdraw_old and wanted.recipient.lower() in linked(engine, escalation_id):
        withdraw_links(
            engine, escalation_id, by, wanted.recipient, f"replaced by {wanted.new_email}: {wanted.reason}",
            wanted.new_name, client_address,
        )  # fmt: skip
    return str(said)
