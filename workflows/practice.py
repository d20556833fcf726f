"""One practice's return and payment, as a child of its cohort; thin over `domain.practice_return`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.returns import ReturnActivities
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
        Carried,
        CaseView,
        EscalationStart,
        EscalationWorkflow,
    )


CarriedPractice = Carried[PracticeCase]


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
        self.begin_or_resume(start, lambda: open_practice(start, workflow.now()))

    @workflow.run
    async def run(self, start: StartPractice) -> CaseView:
        return await self.run_until_closed()

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
