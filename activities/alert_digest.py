"""The interface alert's activities: its index row, and the day's digest of interface alerts to one provider: one email, each alert with its own signed link
(bound to that alert, the provider's primary care liaison and the payer's role), sent at most once
through the sent-mail ledger like every other email."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import Engine
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.uncancelled import uncancelled
from domain.contacts import Organisation, Role
from domain.escalation import EmailEffect
from domain.interface_alert import DigestEntry, IndexAlert, JoinDigest
from domain.working_days import london_date
from links.signing import LinkGrant, sign_link
from mail.compose import Unsendable, compose, message_id_for
from mail.delivery import SmtpDelivery
from persistence.practices import Alerts
from persistence.sent_mail import SentEmail, SentMailLedger
from settings import Settings


class DigestRequest(BaseModel):
    digest_id: str
    batch: int = Field(ge=1)
    provider: Organisation
    day: date
    sent_at: datetime
    items: list[DigestEntry]


class DigestDelivered(BaseModel):
    message_id: str
    held: bool = False  # cannot go as it is, or cut off mid-send: held for ops, like any email
    held_reason: str | None = None


class DigestStart(BaseModel):
    digest_id: str
    provider: Organisation
    day: date
    send_at: datetime


class DigestResult(BaseModel):
    sent: list[str] = Field(default_factory=list)  # message ids, one per batch (a second only for stragglers)
    alerts: list[str] = Field(default_factory=list)


DIGEST_WORKFLOW = "InterfaceAlertDigest"
"""The digest's workflow type, by name: activities sit below workflows and never import them."""


def digest_effect(request: DigestRequest, links: dict[str, str]) -> EmailEffect:
    provider = request.provider
    count = len(request.items)
    paragraphs = [
        f"{count} interface alert{'s' if count != 1 else ''} reported by practices about {provider.name} on "
        f"{request.day:%A} {request.day.day} {request.day:%B %Y}. Each has its own link: acknowledge it with "
        "the action taken, dispute it with your reason, or ask the practice for information.",
    ]
    for n, item in enumerate(request.items, start=1):
        paragraphs.append(
            f"{n}. {item.reference}: {item.category}. {item.practice}, {item.service}, "
            f"{item.occurred_on.day} {item.occurred_on:%B %Y}, document {item.document_ref}; {item.items} "
            f"item{'s' if item.items != 1 else ''}, {item.staff_minutes} minutes of staff time. "
            f"{item.what_happened} Answer by {item.answer_by}: {links[item.reference]}"
        )
    return EmailEffect(
        purpose="alert-digest",
        to=provider.contact_at(1),
        to_role=Role.PAYER,
        subject=f"[{request.digest_id}] {count} interface alert{'s' if count != 1 else ''} from practices",
        headline=f"Interface alerts from practices: {request.day.day} {request.day:%B %Y}",
        paragraphs=paragraphs,
    )


class DigestActivities:
    """The interface alert's own activities: its index row, its place in the day's digest, the digest's email."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._ledger = SentMailLedger(engine)
        self._alerts = Alerts(engine)
        self._delivery = SmtpDelivery(settings, self._ledger)

    @activity.defn(name="index_alert")
    def index_alert(self, index: IndexAlert) -> bool:
        """Idempotent: an alert already indexed (a retry, or the practice's page got there first) stays as it is."""
        with uncancelled():
            return self._alerts.index(index)

    def link(self, reference: str, recipient: str, sent_at: datetime) -> str:
        grant = LinkGrant(
            escalation_id=reference,
            recipient=recipient,
            role=Role.PAYER,
            expires_at=sent_at + timedelta(days=self._settings.link_valid_days),
        )
        return f"{self._settings.base_url.rstrip('/')}/r/{sign_link(self._settings.link_keys, grant)}"

    @activity.defn(name="join_alert_digest")
    async def join_alert_digest(self, join: JoinDigest) -> None:
        """Start the provider's digest for the day with this alert, or add it to the one running. Idempotent:
        the digest takes each alert once, however often this runs; and once the day's digest has gone (this
        ran late: a retry after a crash), an alert it carried is left alone, one it did not goes on its own."""
        client = activity.client()
        try:
            await self._start_digest(join.digest_id, join)
        except WorkflowAlreadyStartedError:
            done = await client.get_workflow_handle(join.digest_id, result_type=DigestResult).result()
            if join.entry.reference not in done.alerts:
                await self._start_digest(f"{join.digest_id}-{join.entry.reference}", join)

    async def _start_digest(self, digest_id: str, join: JoinDigest) -> None:
        start = DigestStart(
            digest_id=digest_id, provider=join.provider, day=london_date(join.send_at), send_at=join.send_at
        )
        await activity.client().start_workflow(
            DIGEST_WORKFLOW,
            start,
            id=digest_id,
            task_queue=activity.info().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,  # a digest that has gone is not sent again
            start_signal="add",
            start_signal_args=[join.entry],
        )

    @activity.defn(name="send_alert_digest")
    async def send_alert_digest(self, request: DigestRequest) -> DigestDelivered:
        """Sent once however often this runs (a retry finds it in the ledger); held for ops if it cannot go."""
        to = request.provider.contact_at(1).email
        links = {item.reference: self.link(item.reference, to, request.sent_at) for item in request.items}
        effect = digest_effect(request, links)
        message_id = message_id_for(request.digest_id, request.batch, self._settings.message_id_domain)
        row = SentEmail(
            message_id=message_id,
            escalation_id=request.digest_id,
            purpose=effect.purpose,
            recipient=to,
            subject=effect.subject,
        )
        try:
            message = compose(
                effect,
                mail_from=self._settings.mail_from,
                message_id=message_id,
                in_reply_to=None,
                link=None,
                facts=[],
                action_labels={},
                sent_at=request.sent_at,
            )
        except Unsendable as unsendable:
            outcome = await self._delivery.hold_unsendable(row, unsendable.reason)
        else:
            if message_id in activity.info().heartbeat_details:  # an earlier attempt's last word: accepted
                await asyncio.to_thread(self._ledger.mark_sent, message_id)
                return DigestDelivered(message_id=message_id)
            outcome = await self._delivery.send_once(message, row, accepted=lambda: activity.heartbeat(message_id))
        return DigestDelivered(
            message_id=message_id, held=outcome.held, held_reason=outcome.reason if outcome.held else None
        )
