"""One practice's return and payment, as a child of its cohort; thin over `domain.practice_return`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.audit import AuditEntry
    from activities.email import EmailSent
    from activities.returns import ReturnActivities
    from activities.steps import EmailStep, StepActivities, StepRun
    from domain.contacts import Organisation
    from domain.escalation import Command, Effect
    from domain.practice_return import (
        AcknowledgeReturnsClosed,
        Practice,
        PracticeCase,
        ReturnEffect,
        ReturnItem,
        ShareNotice,
    )
    from workflows import upward_signals
    from workflows.escalation_workflow import (
        ACTIVITY_RETRY,
        Carried,
        CaseView,
        EscalationStart,
        EscalationWorkflow,
        Progress,
    )


CarriedPractice = Carried[PracticeCase]


OPENING_SEND_TIMEOUT = timedelta(minutes=5)
"""An attempt at sending what its cohort could not: long enough for a slow mail server's every command (each times
out in 30 s), so an attempt is not cut off mid-send, leaving the email held for ops."""


class OpenedPractice(BaseModel):
    """A practice whose cohort carries out its opening steps (`COHORT_OPENS_PATCH`): when, and where they leave it
    (its audit rows and email numbered; its thread's root the first email's Message-ID, as the activity sets it)."""

    at: datetime
    """When the cohort opened the case: the practice opens it again as of then, to the same case."""
    progress: Progress


class OpeningSent(BaseModel):
    """What its cohort tells a practice whose opening email was held, went only after a working day's wait, or
    could not go for now: that email and what follows it, for the practice to carry out itself."""

    requested_at: datetime
    held: int = 0
    unsent: list[AuditEntry | EmailStep] = Field(default_factory=list)


class SendOpening(Command):
    """Its opening's steps its cohort could not carry out for now (`OpeningSent.unsent`), numbered as planned."""

    steps: list[AuditEntry | EmailStep]
    requested_at: datetime


class StartPractice(EscalationStart):
    parent_id: str
    title: str
    practice: Practice
    return_kind: Literal["counts", "groups"]
    items: list[ReturnItem] = Field(default_factory=list)
    returns_deadline: datetime
    context: list[tuple[str, str]] = Field(default_factory=list)
    payer: Organisation
    window_start: date | None = None
    cut_off: date | None = None
    carried: CarriedPractice | None = None
    local_steps: bool = False
    """Audit writes, emails and stored returns as local activities (`EscalationWorkflow.step`): set by cohorts
    from `LOCAL_STEPS_PATCH` on, so a practice costs a few history events rather than two dozen."""
    answer_steps_in_one: bool = False
    """What follows a person's answer as one ordinary activity (`EscalationWorkflow._carry_out_run`): set by
    cohorts from `ANSWER_STEPS_PATCH` on, so a return costs one activity rather than an activity per step."""
    opened: OpenedPractice | None = None
    """Its opening steps done by its cohort, for a batch of practices at once (`COHORT_OPENS_PATCH`)."""


class PracticeClosed(BaseModel):
    ods: str


class ExtendReturns(BaseModel):
    deadline: datetime


class CloseReturns(BaseModel):
    reason: str = "returns closed"


def open_practice(start: StartPractice, now: datetime) -> tuple[PracticeCase, list[Effect]]:
    """A practice's case as its workflow opens it, and the opening's effects. Its cohort calls this too, to start
    the practice with the search attributes the opened case will publish."""
    case = PracticeCase(
        escalation_id=start.escalation_id,
        kind="practice_return",
        title=start.title,
        lmc=start.lmc,
        officer=start.officer,
        payer=start.payer,
        policy=start.policy,
        status="awaiting_return",
        practice=start.practice,
        parent_id=start.parent_id,
        return_kind=start.return_kind,
        items=start.items,
        returns_deadline=start.returns_deadline,
        context=start.context,
        rules=start.rules,
        calendar=start.calendar,
        as_of=now,
        window_start=start.window_start,
        cut_off=start.cut_off,
    )
    return case, case.opening()


@workflow.defn(name="PracticeReturn")
class PracticeWorkflow(EscalationWorkflow):
    carried_model = CarriedPractice

    @workflow.init
    def __init__(self, start: StartPractice) -> None:
        opened = start.opened
        if opened is not None and start.carried is None:  # its cohort sent the request and audited it
            self.begin(start, open_practice(start, opened.at)[0], opened.progress.model_copy(deep=True), [])
            return
        self.begin_or_resume(start, lambda: open_practice(start, workflow.now()))

    @workflow.run
    async def run(self, start: StartPractice) -> CaseView:
        return await self.run_until_closed()

    def carry_over(self) -> BaseModel:
        """As every kind's, without how its cohort opened it: the next run resumes from what is carried."""
        return super().carry_over().model_copy(update={"opened": None})

    @workflow.signal
    def opening_sent(self, report: OpeningSent) -> None:
        """What became of the opening email its cohort sent: held for ops (counted, for the console); sent after the
        mail server was down past a working day's end (its deadline moves on by the days waited, as `_send`'s
        would); or not sent for now, for this practice to send itself, retrying as long as it takes."""
        if report.held:
            self.progress.held_emails += report.held
            self._publish_search_attributes()  # the console lists it among those with emails held
        if report.unsent:
            self.outbox.append(SendOpening(steps=report.unsent, requested_at=report.requested_at))
            return
        last = self.progress.last_email
        if last is not None:
            self.outbox.extend(self.mail_delay_moves(last, bool(report.held), report.requested_at))

    @workflow.signal
    def extend(self, request: ExtendReturns) -> None:
        assert isinstance(self.case, PracticeCase)
        self.outbox.extend(self.case.extend(request.deadline))

    @workflow.signal
    def close_returns(self, request: CloseReturns) -> None:
        assert isinstance(self.case, PracticeCase)
        self.outbox.extend(self.case.close_returns())

    @workflow.signal
    def notify_share(self, notice: ShareNotice) -> None:
        assert isinstance(self.case, PracticeCase)
        self.outbox.extend(self.case.notify_share(notice, workflow.now()))

    def answer_step(self, effect: Effect) -> BaseModel | None:
        return effect if isinstance(effect, ReturnEffect) else None

    async def carry_out_command(self, command: Command) -> None:
        if isinstance(command, SendOpening):
            await self._send_opening(command)
            return
        if isinstance(command, ReturnEffect):
            await self.step(ReturnActivities.record_return, command)
            return
        if isinstance(command, AcknowledgeReturnsClosed):
            parent = workflow.info().parent
            assert parent is not None, "a practice runs inside a cohort"
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                upward_signals.PRACTICE_RETURNS_CLOSED, PracticeClosed(ods=command.ods)
            )
            return
        await super().carry_out_command(command)

    async def _send_opening(self, command: SendOpening) -> None:
        """Carry out what its cohort could not send, as planned (the same Message-IDs and audit rows), then note it
        as a run of its own is noted (`after_run`). An ordinary activity: its retries, for as long as the mail
        server is down, wait in Temporal rather than hold a workflow task open as a local activity's would."""
        emails = [step.request.effect for step in command.steps if isinstance(step, EmailStep)]
        run = StepRun(steps=list(command.steps))
        sent_all: list[EmailSent] = await workflow.execute_activity_method(  # retried by Temporal, not held in a task
            StepActivities.carry_out_steps,
            run,
            start_to_close_timeout=OPENING_SEND_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        await self.after_run(emails, sent_all, command.requested_at)
