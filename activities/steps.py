"""A run of audit writes and emails carried out as one local activity: a batch of practices' openings, for their
cohort (`carry_out_openings`), or a practice's later steps (`carry_out_steps`), where thousands run at once and a
marker event apiece would be most of their history; and what follows an answer, as one ordinary activity.

Each step is the same as on its own (`record_audit`, `send_email`) and as idempotent: audit rows by
(escalation, seq), emails claimed in the sent-mail ledger before they go. A retry of the whole run after a
crash therefore writes no row twice and sends no email twice; it carries on from the first step not done.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from activities.audit import AuditActivities, AuditEntry
from activities.email import EmailActivities, EmailRequest, EmailSent, waiting_problem
from activities.returns import ReturnActivities
from domain.escalation import EmailEffect
from domain.practice_return import ReturnEffect

log = structlog.get_logger(__name__)


def email_audit(effect: EmailEffect, sent: EmailSent) -> tuple[str, dict[str, Any]]:
    """The audit row an email leaves, sent or held: its event and detail."""
    return (
        "email_held" if sent.held else "email_sent",
        {
            "purpose": effect.purpose,
            "to": effect.to.email,
            "to_role": effect.to_role.value,
            "cc": [c.email for c in effect.cc],
            "subject": effect.subject,
            "message_id": sent.message_id,
        },
    )


class EmailStep(BaseModel):
    """An email, and the audit sequence number its `email_sent` (or `email_held`) row takes."""

    request: EmailRequest
    audit_seq: int


class StepRun(BaseModel):
    steps: list[AuditEntry | EmailStep | ReturnEffect]


class Opened(BaseModel):
    """What a practice's opening came to: its emails as sent (or held), and, should one not go for now (no mail
    server, a timeout, a 4xx), that email and the steps after it, for the practice to carry out itself, retrying
    as long as it takes, so that one practice's mail cannot hold up the rest of its batch."""

    sent: list[EmailSent] = Field(default_factory=list)
    unsent: list[AuditEntry | EmailStep] = Field(default_factory=list)


class OpeningRuns(BaseModel):
    """The opening steps of a cohort's batch of practices, a run each (`PracticeCohortWorkflow`): audit writes
    and emails only."""

    runs: list[StepRun]


class StepActivities:
    def __init__(self, audit: AuditActivities, email: EmailActivities, returns: ReturnActivities) -> None:
        self._audit = audit
        self._email = email
        self._returns = returns

    @activity.defn(name="carry_out_steps")
    async def carry_out_steps(self, run: StepRun) -> list[EmailSent]:
        """Every step in order; what each email came to, in order."""
        sent_all: list[EmailSent] = []
        thread: str | None = None
        for step in run.steps:
            if isinstance(step, AuditEntry):
                await asyncio.to_thread(self._audit.record_audit, step)
                continue
            if isinstance(step, ReturnEffect):  # the latest return, keyed by (incident, practice)
                await asyncio.to_thread(self._returns.record_return, step)
                continue
            sent, entry, thread = await self._send(step, thread)
            await asyncio.to_thread(self._audit.record_audit, entry)
            sent_all.append(sent)
        return sent_all

    @activity.defn(name="carry_out_openings")
    async def carry_out_openings(self, openings: OpeningRuns) -> list[Opened]:
        """Each run as `carry_out_steps` carries it out, but the audit rows of every run in two transactions rather
        than one each: those before a run's first email, written before any email goes, and the rest once the last
        has gone. At thousands of practices the database's share of the worker's time was the largest part of a
        practice's cost. An email that cannot go for now is handed back with what follows it (`Opened.unsent`)
        rather than failing the batch. A retry repeats nothing (as there)."""
        leads = [_until_email(run) for run in openings.runs]
        await asyncio.to_thread(self._audit.record_audits, [entry for lead in leads for entry in lead])
        following: list[AuditEntry] = []
        opened: list[Opened] = []
        failing = False  # once one email fails, the rest are not tried: each practice retries its own
        for run, lead in zip(openings.runs, leads, strict=True):
            done = Opened()
            thread: str | None = None
            rest = run.steps[len(lead) :]
            for at, step in enumerate(rest):
                if isinstance(step, ReturnEffect):
                    raise TypeError("an opening stores no return")
                if isinstance(step, AuditEntry):
                    following.append(step)
                    continue
                try:
                    if failing:
                        raise _NotTried
                    sent, entry, thread = await self._send(step, thread)
                except Exception as failed:  # noqa: BLE001 - whatever it was, the practice retries it alone
                    if not failing:
                        problem = waiting_problem(failed) or type(failed).__name__
                        log.warning("opening_email_not_sent", escalation_id=step.request.escalation_id, problem=problem)
                    failing = True
                    tried = step.model_copy(update={"request": step.request.model_copy(update={"tried_before": True})})
                    done.unsent = [tried, *(s for s in rest[at + 1 :] if not isinstance(s, ReturnEffect))]
                    break
                following.append(entry)
                done.sent.append(sent)
            opened.append(done)
        await asyncio.to_thread(self._audit.record_audits, following)
        return opened

    async def _send(self, step: EmailStep, thread: str | None) -> tuple[EmailSent, AuditEntry, str]:
        """Send a run's email; what it came to, the audit row it leaves, and the thread the run's next email
        joins. An email after the case's first takes the first's Message-ID as its thread root, as it would
        had each gone on its own."""
        request = step.request
        if request.thread_root is None and thread is not None:
            request = request.model_copy(update={"thread_root": thread})
        sent = await self._email.send_email(request)
        event, detail = email_audit(request.effect, sent)
        entry = AuditEntry(
            escalation_id=request.escalation_id,
            seq=step.audit_seq,
            occurred_at=request.sent_at,
            event=event,
            actor="engine",
            detail=detail,
        )
        return sent, entry, sent.thread_root or request.thread_root or sent.message_id


class _NotTried(Exception):
    """An email not tried because one before it in the batch failed."""


def _until_email(run: StepRun) -> list[AuditEntry]:
    """A run's audit rows before its first email (or other step)."""
    leading: list[AuditEntry] = []
    for step in run.steps:
        if not isinstance(step, AuditEntry):
            break
        leading.append(step)
    return leading
