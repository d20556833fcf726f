"""Email activities: render an email effect, sign its link and send it at most once
(`mail.delivery` says how); and carry out ops' decision on a held email.

A heartbeat sent the moment SMTP accepts tells a retry after a crash that the message went, so
only a crash inside that moment leaves a message held.

An email that can never go as it is (a header it cannot carry, an address or a message the mail
server refuses for good) is not retried: it is held for ops with its reason, the activity returns
`held` so the escalation audits `email_held` and carries on with its deadlines, and the escalation's
officer is sent a short notice saying which email to whom could not be sent and why. The notice has
its own stable Message-ID (`mail.compose.notice_id_for`) and goes through the same at-most-once
ledger, so however often the activity runs, the officer is told once. No notice goes when the
officer is the one the email could not reach (it is to them, or their address is at fault), and
none is ever sent about a notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import datetime, timedelta

import aiosmtplib
import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from domain.tables import Table
from links.signing import LinkGrant, sign_link
from mail.compose import HELD_NOTICE, Unsendable, check_headers, compose, held_notice, message_id_for, notice_id_for
from mail.delivery import Delivery, Outcome, SmtpDelivery
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
    tables: list[Table] = Field(default_factory=list)  # what the recipient needs to decide (a claim's lines)
    reply_to: Contact | None = None  # the responsible officer, whom a reply reaches
    # Who is told if the email cannot be sent; when not given, the officer the effect names (its To on
    # an officer's email, its first Cc on a payer's). A practice's or observer's email names none.
    officer: Contact | None = None
    tried_before: bool = False
    """An earlier activity tried it and failed (a cohort's batch handing it back to its practice): it may be
    waiting, as an earlier attempt of this activity may have left it."""


class EmailSent(BaseModel):
    message_id: str
    recipients: list[str]
    already_sent: bool = False
    # Held for ops: cut off mid-send (it may have arrived; no reason), or it cannot be sent as it is
    # (`held_reason` says why). Either way it is not sent again until ops decide.
    held: bool = False
    held_reason: str | None = None
    refused: list[str] = Field(default_factory=list)  # addresses refused for good; the others got it
    thread_root: str | None = None
    """The Message-ID it replied to as its thread's root (`thread_of`); None for a case's first email."""


class SettleHeldEmail(BaseModel):
    """Ops' decision on a held email: send it now, or record that it arrived."""

    message_id: str = Field(min_length=3)
    send: bool
    by: str = Field(min_length=3)


def accepted(message_id: str) -> None:
    """Tell a retry the mail server took `message_id` (a heartbeat). A local activity (a practice's steps)
    cannot heartbeat: a crash between the server's acceptance and the ledger's mark leaves its email held
    for ops, as a crash before a heartbeat reached Temporal would."""
    if not activity.info().is_local:
        activity.heartbeat(message_id)


def officer_of(request: EmailRequest) -> Contact | None:
    """The officer to tell about this email: as given, else the one the effect names."""
    effect = request.effect
    if request.officer is not None:
        return request.officer
    if effect.to_role is Role.OFFICER:
        return effect.to
    if effect.to_role is Role.PAYER and effect.cc:
        return effect.cc[0]  # the officer is always copied first on the payer's emails
    return None


def thread_of(request: EmailRequest, domain: str) -> str | None:
    """The Message-ID `request` replies to: the thread root its case gives, else its case's first email (a case
    whose first email went before it knew that email's Message-ID: a practice its cohort opened)."""
    if request.thread_root is not None or request.step == 1:
        return request.thread_root
    return message_id_for(request.escalation_id, 1, domain)


def names(reason: str, address: str) -> bool:
    """Whether `reason` names `address` (as a whole address, not part of a longer one)."""
    return re.search(rf"(?<![\w.%+-]){re.escape(address)}(?![\w-]|\.\w)", reason, re.IGNORECASE) is not None


def waiting_problem(err: Exception) -> str | None:
    """What keeps an email waiting, in words for the dashboard (never the server's own text, which may
    quote an address); None when the failure is not the mail server's."""
    if isinstance(err, aiosmtplib.SMTPResponseException):
        return f"the mail server answered {err.code} (try later)"
    if isinstance(err, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return "the mail server did not answer in time"
    if isinstance(err, (aiosmtplib.SMTPException, OSError)):
        return "no connection to the mail server"
    return None


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
        thread = thread_of(request, self._settings.message_id_domain)
        if message_id in activity.info().heartbeat_details:  # an earlier attempt's last word: accepted
            await asyncio.to_thread(self._ledger.mark_sent, message_id)
            return EmailSent(message_id=message_id, recipients=recipients, already_sent=True, thread_root=thread)
        outcome = await self._send(request, effect, message_id, thread)
        if outcome.delivery is Delivery.UNSENDABLE and outcome.reason is not None:
            await self._tell_officer(request, message_id, outcome.reason)
        return EmailSent(
            message_id=message_id,
            recipients=recipients,
            already_sent=outcome.delivery is Delivery.ALREADY_SENT,
            held=outcome.held,
            held_reason=outcome.reason if outcome.held else None,
            refused=list(outcome.refused),
            thread_root=thread,
        )

    @activity.defn(name="settle_held_email")
    async def settle_held_email(self, request: SettleHeldEmail) -> str:
        """Carry out ops' decision on a held email; the outcome as `SmtpDelivery.settle` names it."""
        return await self._delivery.settle(request.message_id, request.send)

    async def _send(self, request: EmailRequest, effect: EmailEffect, message_id: str, thread: str | None) -> Outcome:
        """Compose and send `effect` once as `message_id`; held with the reason if it can never go."""
        row = SentEmail(
            message_id=message_id,
            escalation_id=request.escalation_id,
            purpose=effect.purpose,
            recipient=effect.to.email,
            subject=effect.subject,
        )
        meter = activity.metric_meter()
        try:
            check_headers(effect)  # before the link, whose grant would refuse a broken address less clearly
            message = compose(
                effect,
                mail_from=self._settings.mail_from,
                message_id=message_id,
                in_reply_to=thread,
                link=self.link_for(request) if effect.actions else None,
                facts=request.facts if effect is request.effect else [],
                action_labels=request.action_labels,
                sent_at=request.sent_at,
                tables=request.tables if effect is request.effect else [],
                reply_to=(request.reply_to or officer_of(request)) if effect.to_role is not Role.OFFICER else None,
            )
        except Unsendable as unsendable:  # the same effect fails the same way every time: never retried
            outcome = await self._delivery.hold_unsendable(row, unsendable.reason)
        else:
            try:
                outcome = await self._delivery.send_once(message, row, accepted=lambda: accepted(message_id))
            except Exception as err:  # what a retry may cure: no connection, a timeout, a 4xx
                meter.create_counter("lmc_emails_failed", "email sends that failed").add(1, {"purpose": effect.purpose})
                problem = waiting_problem(err)
                if problem is not None:  # the dashboard says mail is delayed while any email waits
                    with contextlib.suppress(Exception):  # never hide the send's own failure
                        await asyncio.to_thread(
                            self._ledger.note_waiting, message_id, request.escalation_id, effect.purpose, problem
                        )
                raise
        if activity.info().attempt > 1 or request.tried_before:  # it may have been left waiting: it is not now
            await asyncio.to_thread(self._ledger.done_waiting, message_id)
        context = {"escalation_id": request.escalation_id, "message_id": message_id, "purpose": effect.purpose}
        if outcome.held:
            why = "unsendable" if outcome.delivery is Delivery.UNSENDABLE else "cut_off"
            meter.create_counter(
                "lmc_emails_held", "emails held for ops: a send cut off mid-way, or one that cannot go as it is"
            ).add(1, {"purpose": effect.purpose, "why": why})
            log.warning("email_held", why=why, reason=outcome.reason, **context)
        elif outcome.delivery is Delivery.SENT:
            meter.create_counter("lmc_emails_sent", "emails handed to SMTP").add(1, {"purpose": effect.purpose})
            log.info("email_sent", **context)
            if outcome.refused:
                log.warning("email_not_delivered_to", refused=list(outcome.refused), reason=outcome.reason, **context)
        return outcome

    async def _tell_officer(self, request: EmailRequest, held_id: str, reason: str) -> None:
        """Tell the escalation's officer, once, that the email `held_id` cannot be sent and why."""
        effect = request.effect
        officer = officer_of(request)
        context = {"escalation_id": request.escalation_id, "message_id": held_id}
        if effect.purpose == HELD_NOTICE or officer is None:
            log.warning("email_held_officer_not_told", why="no officer to tell", **context)
            return
        if officer.email == effect.to.email or names(reason, officer.email):
            log.warning("email_held_officer_not_told", why="the officer is the one it could not reach", **context)
            return
        notice_id = notice_id_for(held_id)
        if notice_id in activity.info().heartbeat_details:  # an earlier attempt's notice was accepted
            await asyncio.to_thread(self._ledger.mark_sent, notice_id)
            return
        notice = held_notice(request.escalation_id, effect, reason, officer)
        root = thread_of(request, self._settings.message_id_domain)
        thread = root if root != held_id else None
        await self._send(request, notice, notice_id, thread)
