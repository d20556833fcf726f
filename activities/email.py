"""Email activity: render an email effect, sign its link, send it over SMTP, once.

A ledger keyed by Message-ID (one per escalation step) makes a retried send a no-op, and a
heartbeat sent the moment SMTP accepts the message tells a retry after a crash the same, before
the ledger write could. What remains is a crash between SMTP accepting and that heartbeat
reaching Temporal; the stable Message-ID lets mail systems fold even that duplicate.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import aiosmtplib
import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from domain.escalation import EmailEffect
from mail.compose import compose, message_id_for
from persistence.sent_mail import SentEmail, SentMailLedger
from settings import Settings
from web.links import LinkGrant, sign_link

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


class EmailActivities:
    def __init__(self, settings: Settings, ledger: SentMailLedger) -> None:
        self._settings = settings
        self._ledger = ledger

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
        delivered_before = message_id in activity.info().heartbeat_details  # an earlier attempt's last word
        if delivered_before or await asyncio.to_thread(self._ledger.already_sent, message_id):
            log.info("email_already_sent", escalation_id=request.escalation_id, message_id=message_id)
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
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                start_tls=s.smtp_starttls,
                timeout=30,
            )
        except Exception:
            activity.metric_meter().create_counter("lmc_emails_failed", "email sends that failed").add(
                1, {"purpose": effect.purpose}
            )
            raise
        activity.heartbeat(message_id)  # reaches the server at once: a retry after a crash from here on skips
        activity.metric_meter().create_counter("lmc_emails_sent", "emails handed to SMTP").add(
            1, {"purpose": effect.purpose}
        )
        await asyncio.to_thread(
            self._ledger.mark_sent,
            SentEmail(
                message_id=message_id,
                escalation_id=request.escalation_id,
                purpose=effect.purpose,
                recipient=effect.to.email,
                subject=effect.subject,
                raw=message.as_string(),
            ),
        )
        log.info("email_sent", escalation_id=request.escalation_id, message_id=message_id, purpose=effect.purpose)
        return EmailSent(message_id=message_id, recipients=recipients)
