"""A run of a case's audit writes and emails carried out as one local activity: the shape a practice of
an incident takes, where thousands open at once and a marker event apiece would be most of their history.

Each step is the same as on its own (`record_audit`, `send_email`) and as idempotent: audit rows by
(escalation, seq), emails claimed in the sent-mail ledger before they go. A retry of the whole run after a
crash therefore writes no row twice and sends no email twice; it carries on from the first step not done.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.audit import AuditActivities, AuditEntry
from activities.email import EmailActivities, EmailRequest, EmailSent
from activities.returns import ReturnActivities
from domain.escalation import EmailEffect
from domain.practice_return import ReturnEffect


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


class StepActivities:
    def __init__(self, audit: AuditActivities, email: EmailActivities, returns: ReturnActivities) -> None:
        self._audit = audit
        self._email = email
        self._returns = returns

    @activity.defn(name="carry_out_steps")
    async def carry_out_steps(self, run: StepRun) -> list[EmailSent]:
        """Every step in order; what each email came to, in order. An email after the case's first takes the
        first's Message-ID as its thread root, as it would had each gone on its own."""
        sent_all: list[EmailSent] = []
        thread: str | None = None
        for step in run.steps:
            if isinstance(step, AuditEntry):
                await asyncio.to_thread(self._audit.record_audit, step)
                continue
            if isinstance(step, ReturnEffect):  # the latest return, keyed by (incident, practice)
                await asyncio.to_thread(self._returns.record_return, step)
                continue
            request = step.request
            if request.thread_root is None and thread is not None:
                request = request.model_copy(update={"thread_root": thread})
            sent = await self._email.send_email(request)
            thread = request.thread_root or sent.message_id
            event, detail = email_audit(request.effect, sent)
            entry = AuditEntry(
                escalation_id=request.escalation_id,
                seq=step.audit_seq,
                occurred_at=request.sent_at,
                event=event,
                actor="engine",
                detail=detail,
            )
            await asyncio.to_thread(self._audit.record_audit, entry)
            sent_all.append(sent)
        return sent_all
