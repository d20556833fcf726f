"""Email activities: render an email effect, sign its link and send it at most once
(`mail.delivery` says how); and carry out ops' decision on an email held because a send was cut off.

A heartbeat sent the moment SMTP accepts tells a retry after a crash that the message went, so
only a crash inside that moment leaves a message held.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from domain.escalation import EmailEffect
from links.signing import LinkGrant, sign_link
from mail.compose import compose, message_id_for
from mail.delivery import Delivery, SmtpDelivery
from persistence.sent_mail import SentEmail, SentMailLedger
from settings import Settings

log = structlog.get_logger(__name__)


class EmailRequest(BaseModel):
    escalation_id: str
    step: int = Field(ge=1)
    sent_at: datetime
    thread_root: str | None = None
    effect: EmailEffect
    facts: list[tuple[str, str]] = Field(default_factory=list)
    action_labels: dict[str, str] = Field(default_factory=dict)


class EmailSent(BaseModel):
    message_id: str
    recipients: list[str]
    already_sent: bool = False
    held: bool = False  # cut off mid-send: it may have arrived, so it is not sent again until ops decide


class SettleHeldEmail(BaseModel):
    """Ops' decision on a held email: send it now, or record that it arrived."""

    message_id: str = Field(min_length=3)
    send: bool
    by: str = Field(min_length=3)


class EmailActivities:
    def __init__(self, settings: Settings, ledger: SentMailLedger) -> None:
        self._settings = settings
        self._ledger = ledger
        self._delivery = SmtpDelivery(settings, ledger)

    def link_for(self, request: EmailRequest) -> str | None:
        effect = request.effect
        grant = LinkGrant(
            escalation_id=request.escalation_id,
            recipient=effect.to.email,
            role=effect.to_role,
            expires_at=request.sent_at + timedelta(days=self._settings.link_valid_days),
        )
        return f"{self._settings.base_url.rstrip('/')}/r/{sign_link(self._settings.link_keys, grant)}"

    @activity.defn(name="send_email")
    async def send_email(self, request: EmailRequest) -> EmailSent:
        effect = request.effect
        message_id = message_id_for(request.escalation_id, request.step, self._settings.message_id_domain)
        recipients = [effect.to.email, *(c.email for c in effect.cc)]
        if message_id in activity.info().heartbeat_details:  # an earlier attempt's last word: accepted
            await asyncio.to_thread(self._ledger.mark_sent, message_id)
            return EmailSent(message_id=message_id, recipients=recipients, already_sent=True)
        message = compose(
            effect,
            mail_from=self._settings.mail_from,
            message_id=message_id,
            in_reply_to=request.thread_root,
            link=self.link_for(request) if effect.actions else None,
            facts=request.facts,
            action_labels=request.action_labels,
            sent_at=request.sent_at,
        )
        row = SentEmail(
            message_id=message_id,
            escalation_id=request.escalation_id,
            purpose=effect.purpose,
            recipient=effect.to.email,
            subject=effect.subject,
        )
        meter = activity.metric_meter()
        try:
            delivery = await self._delivery.send_once(message, row, accepted=lambda: activity.heartbeat(message_id))
        except Exception:
            meter.create_counter("lmc_emails_failed", "email sends that failed").add(1, {"purpose": effect.purpose})
            raise
        context = {"escalation_id": request.escalation_id, "message_id": message_id, "purpose": effect.purpose}
        if delivery is Delivery.HELD:
            meter.create_counter("lmc_emails_held", "emails held for ops: a send was cut off mid-way").add(
                1, {"purpose": effect.purpose}
            )
            log.warning("email_held", **context)
        elif delivery is Delivery.SENT:
            meter.create_counter("lmc_emails_sent", "emails handed to SMTP").add(1, {"purpose": effect.purpose})
            log.info("email_sent", **context)
        return EmailSent(
            message_id=message_id,
            recipients=recipients,
            already_sent=delivery is Delivery.ALREADY_SENT,
            held=delivery is Delivery.HELD,
        )

    @activity.defn(name="settle_held_email")
    async def settle_held_email(self, request: SettleHeldEmail) -> str:
        """Carry out ops' decision on a held email; the outcome as `SmtpDelivery.settle` names it."""
        return await self._delivery.settle(request.message_id, request.send)
