"""A cohort of up to COHORT_SIZE practices: starts their workflows and relays the incident's
messages to them.

Why cohorts: an incident can touch every practice in England (about 6,300). Starting that many
children from one workflow would put tens of thousands of events in its history. A cohort's
history holds a start and a completion per practice and a few events per message it passes on
(by relay, `workflows.children.Relays`), and the incident's holds only its cohorts. Each practice
is its own workflow, so one stuck return never holds another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.incident_lists import IncidentListActivities, PracticeChunk
    from activities.steps import Opened, OpeningRuns, StepActivities, StepRun
    from domain.calendar import WorkingCalendar, legacy_calendar
    from domain.contacts import Contact, Lmc, Organisation
    from domain.escalation import LEGACY_RULES, AuditEffect, DeadlinePolicy, EmailEffect
    from domain.incident import IncidentCase, StartPractices
    from domain.mail_delay import working_days_waited
    from domain.practice_return import Practice, ReturnItem, ShareNotice
    from domain.wording import STOPPED
    from workflows import upward_signals
    from workflows.children import RELAY_PATCH, Relays, signal_if_running
    from workflows.escalation_workflow import (
        ACTIVITY_RETRY,
        CaseView,
        CloseRequest,
        Progress,
        starting_search_attributes,
        step_of,
    )
    from workflows.practice import (
        CloseReturns,
        ExtendReturns,
        OpenedPractice,
        OpeningSent,
        PracticeClosed,
        PracticeWorkflow,
        StartPractice,
        open_practice,
    )

LOCAL_STEPS_PATCH = "practice-steps-as-local-activities"
"""From this patch on a cohort starts its practices with `StartPractice.local_steps`; runs recorded before
start theirs with ordinary activities, as they were."""
ANSWER_STEPS_PATCH = "practice-answer-steps-in-one-activity"
"""From this patch on a cohort starts its practices with `StartPractice.answer_steps_in_one`: decided once a
cohort rather than once a practice, whose own patch would cost each practice a marker and an upsert."""
COHORT_OPENS_PATCH = "cohort-opens-its-practices"
"""From this patch on a cohort starts its practices already opened (`StartPractice.opened`), then carries out
their opening steps (the audit row, the request for a return and its audit row) a batch at a time in one local
activity (`StepActivities.carry_out_openings`): the batch's audit rows in two transactions, its emails over one
mail server connection. A practice's own opening, a local activity apiece with a database transaction per row,
was most of its cost at thousands of practices (issue #16). Local, not an ordinary activity: at 1,000 practices
an ordinary one (its scheduling, its input in history, another workflow task a batch) took the fan-out from
1.0-1.2x the no-op baseline to 1.2-1.6x. Its cost is a cohort's workflow task held open while the batch runs (up
to about a second under load; nothing waits on a cohort meanwhile) and, since a local activity cannot heartbeat,
an email whose send a crash cuts off is held for ops, as a practice's own was. Runs recorded before open their
practices as they did."""
OPENINGS_TIMEOUT = timedelta(minutes=10)
"""An attempt at a batch: it stops at the first email the mail server will not take (each SMTP command times out
in 30 s), handing that one and the rest back to their practices."""
STOPPED_PRACTICE_PATCH = "cohort-outlives-a-stopped-practice"
"""From this patch on a practice ops stop ends alone (`PracticeCohortWorkflow._outcome`)."""
COHORT_SIZE = 100
START_BATCH = 20
"""Practices a cohort starts per workflow task (reading its chunk from the store): each task stays a
few milliseconds of work, whatever the cohort's size. (Measured: all 100 in one task brings their start
events back in more tasks, not fewer, at 0.34 tasks a practice against 0.18.)"""


PRACTICE_TASK_TIMEOUT = timedelta(seconds=30)
"""A practice's workflow tasks may take this long before Temporal gives them to a worker again (its default is
10 s): at 6,300 practices on 2 cores a busy worker's task may take seconds to finish, and one given again meanwhile
is work done twice. A task lost between a saturated server and the worker (README, Benchmark) is given again after
this long. A worker that dies holding a task delays that practice by 30 s rather than 10, nothing to a deadline
days away. Only the starting command's attributes change, which replay does not compare."""


class PracticeCommon(BaseModel):
    """What every practice of an incident shares, sent once per cohort rather than once per practice
    (at 6,300 practices, a copy each would overflow the 4 MB a workflow task may send)."""

    parent_id: str
    title: str
    return_kind: Literal["counts", "groups"]
    items: list[ReturnItem]
    returns_deadline: datetime
    context: list[tuple[str, str]]
    lmc: Lmc
    officer: Contact
    payer: Organisation
    policy: DeadlinePolicy
    rules: int = LEGACY_RULES
    calendar: WorkingCalendar = Field(default_factory=legacy_calendar)
    window_start: date | None = None
    cut_off: date | None = None

    @classmethod
    def of(cls, case: IncidentCase, command: StartPractices) -> PracticeCommon:
        """What `case`'s practices share, for its command to start them."""
        return cls(
            parent_id=case.escalation_id,
            title=case.title,
            return_kind=command.return_kind,
            items=command.items,
            returns_deadline=command.returns_deadline,
            context=command.context,
            lmc=case.lmc,
            officer=case.officer,
            payer=case.payer,
            policy=case.policy,
            rules=command.rules,
            calendar=command.calendar,
            window_start=command.window_start,
            cut_off=command.cut_off,
        )


class StartCohort(BaseModel):
    """A cohort's practices come listed (as first recorded) or, now, as a `chunk` of the incident's stored
    list that the cohort reads by an activity: its input stays the same size whatever the incident's."""

    cohort_id: str
    common: PracticeCommon
    practices: list[Practice] = Field(default_factory=list)
    chunk: PracticeChunk | None = None
    report_by_signal: bool = False
    """Tell the incident, by signal, when every practice has closed (`upward_signals.COHORT_SETTLED`): an incident
    that may continue as new holds no handle to await this cohort on."""

    def practice_starts(
        self, practices: list[Practice] | None = None, local_steps: bool = False, answer_steps_in_one: bool = False
    ) -> list[StartPractice]:
        # Already validated as part of this cohort: construct, don't re-validate 100 copies in one task.
        common = {name: getattr(self.common, name) for name in PracticeCommon.model_fields}
        return [
            StartPractice.model_construct(
                **common,
                escalation_id=f"{self.common.parent_id}-{p.ods}",
                practice=p,
                carried=None,
                local_steps=local_steps,
                answer_steps_in_one=answer_steps_in_one,
            )
            for p in (self.practices if practices is None else practices)
        ]


class CohortShares(BaseModel):
    """Each practice's notice (as first recorded), or its amount and one notice for all (0 if not listed)."""

    shares: dict[str, ShareNotice] = Field(default_factory=dict)
    amounts: dict[str, int] | None = None
    notice: ShareNotice | None = None

    def for_practice(self, ods: str) -> ShareNotice | None:
        if self.notice is not None:
            return self.notice.model_copy(update={"amount_pence": (self.amounts or {}).get(ods, 0)})
        return self.shares.get(ods)


class CohortClosed(BaseModel):
    cohort_id: str


class CohortResult(BaseModel):
    outcomes: dict[str, str]


class CohortSettled(CohortResult):
    cohort_id: str


@workflow.defn(name="PracticeCohort")
class PracticeCohortWorkflow:
    @workflow.init
    def __init__(self, start: StartCohort) -> None:
        self._handles: dict[str, ChildWorkflowHandle[Any, CaseView]] = {}
        self._started = False
        self._closed: set[str] = set()
        self._cohort_id = start.cohort_id
        self._local_steps = False
        self._answer_steps_in_one = False
        self._opens = False
        self._relays = Relays()

    @workflow.run
    async def run(self, start: StartCohort) -> CohortResult:
        self._local_steps = workflow.patched(LOCAL_STEPS_PATCH)
        self._answer_steps_in_one = self._local_steps and workflow.patched(ANSWER_STEPS_PATCH)
        self._opens = self._answer_steps_in_one and workflow.patched(COHORT_OPENS_PATCH)
        if start.chunk is not None:
            await self._start_chunk(start, start.chunk)
        else:
            await self._start_listed(start)
        results = await asyncio.gather(*(self._outcome(ods, handle) for ods, handle in self._handles.items()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        outcomes = dict(zip(self._handles, results, strict=True))
        parent = workflow.info().parent
        if start.report_by_signal and parent is not None:
            settled = CohortSettled(cohort_id=self._cohort_id, outcomes=outcomes)
            parent_handle = workflow.get_external_workflow_handle(parent.workflow_id)
            await signal_if_running(parent_handle, upward_signals.COHORT_SETTLED, settled)
        return CohortResult(outcomes=outcomes)

    async def _outcome(self, ods: str, handle: ChildWorkflowHandle[Any, CaseView]) -> str:
        """How a practice's case ended. One ops stopped ends without a result; from `STOPPED_PRACTICE_PATCH` on it
        counts as stopped, and as having closed its returns (it will say nothing more), so its cohort and the
        rest of its practices go on. (Runs recorded before failed with it, and took every sibling with them.)"""
        try:
            view = await handle
        except ChildWorkflowError:
            if not workflow.patched(STOPPED_PRACTICE_PATCH):
                raise
            if ods not in self._closed:
                await self.practice_returns_closed(PracticeClosed(ods=ods))
            return STOPPED
        return view.outcome or ""

    async def _start_chunk(self, start: StartCohort, chunk: PracticeChunk) -> None:
        """Read the cohort's practices from the store, then start them a batch per workflow task."""
        listed = await workflow.execute_activity_method(
            IncidentListActivities.load_practice_chunk,
            chunk,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=ACTIVITY_RETRY,
        )
        practices = start.practice_starts(listed, self._local_steps, self._answer_steps_in_one)
        for batch in range(0, len(practices), START_BATCH):
            wave = practices[batch : batch + START_BATCH]
            if self._opens:
                await self._open(wave)
                continue
            self._handles.update(await self._start(wave, [self._attributes_of(p) for p in wave]))
        self._started = True
        parent = workflow.info().parent
        if parent is not None:  # the incident may start its next cohort
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                upward_signals.COHORT_PRACTICES_STARTED, CohortClosed(cohort_id=self._cohort_id)
            )

    async def _start(
        self,
        wave: list[StartPractice],
        attributes: list[TypedSearchAttributes | None],
        task_timeout: timedelta | None = PRACTICE_TASK_TIMEOUT,
    ) -> dict[str, ChildWorkflowHandle[Any, CaseView]]:
        """Start the wave's practices, each with the search attributes given; their handles by ODS code."""
        started = await asyncio.gather(
            *(
                workflow.start_child_workflow(
                    PracticeWorkflow.run,
                    practice,
                    id=practice.escalation_id,
                    parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                    search_attributes=published,
                    task_timeout=task_timeout,
                )
                for practice, published in zip(wave, attributes, strict=True)
            )
        )
        return {p.practice.ods: handle for p, handle in zip(wave, started, strict=True)}

    async def _open(self, wave: list[StartPractice]) -> None:
        """Open the wave's practices (`COHORT_OPENS_PATCH`): start each as its opening leaves it, then carry out
        every opening's steps at once, so a practice's link works by the time its email arrives. A practice whose
        email was held, went only after a working day's wait, or could not go for now (to send itself, retrying)
        is told (`PracticeWorkflow.opening_sent`); the rest need not be. Every step is as idempotent as a
        practice's own (audit rows by sequence, emails claimed in the ledger), so a retried task repeats none."""
        now = workflow.now()
        runs: list[StepRun] = []
        starts: list[StartPractice] = []
        attributes: list[TypedSearchAttributes | None] = []
        for practice in wave:
            case, effects = open_practice(practice, now)
            progress = Progress()
            steps = [step_of(case, progress, now, e) for e in effects if isinstance(e, AuditEffect | EmailEffect)]
            if len(steps) != len(effects):
                raise ValueError(f"{practice.escalation_id}: an opening carries out only audit rows and emails")
            progress.last_email = next((e for e in reversed(effects) if isinstance(e, EmailEffect)), None)
            runs.append(StepRun(steps=steps))
            starts.append(practice.model_copy(update={"opened": OpenedPractice(at=now, progress=progress)}))
            attributes.append(starting_search_attributes(case))
        handles = await self._start(starts, attributes)
        self._handles.update(handles)
        opened: list[Opened] = await workflow.execute_local_activity_method(
            StepActivities.carry_out_openings,
            OpeningRuns(runs=runs),
            start_to_close_timeout=OPENINGS_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        delayed = working_days_waited(wave[0].calendar, now, workflow.now()) if wave else False
        reports = [
            (handles[practice.practice.ods], OpeningSent(requested_at=now, held=held, unsent=done.unsent))
            for practice, done in zip(wave, opened, strict=True)
            if (held := sum(1 for sent in done.sent if sent.held)) or done.unsent or (delayed and done.sent)
        ]
        await asyncio.gather(*(signal_if_running(h, PracticeWorkflow.opening_sent, r) for h, r in reports))

    def _attributes_of(self, practice: StartPractice) -> TypedSearchAttributes | None:
        """A local-steps practice starts with the search attributes its opened case publishes (worked out by the
        same `open_practice` it runs), so it need not upsert them: one history event fewer each."""
        if not practice.local_steps:
            return None
        case, _ = open_practice(practice, workflow.now())
        return starting_search_attributes(case)

    async def _start_listed(self, start: StartCohort) -> None:
        """As first recorded: every listed practice started in one workflow task."""
        practices = start.practice_starts(local_steps=self._local_steps, answer_steps_in_one=self._answer_steps_in_one)
        self._handles = await self._start(practices, [None] * len(practices), task_timeout=None)
        self._started = True

    async def _each(self, signal: Callable[..., Any], make_arg: Any) -> None:
        await workflow.wait_condition(lambda: self._started)
        told = [(handle, arg) for ods, handle in self._handles.items() if (arg := make_arg(ods)) is not None]
        if workflow.patched(RELAY_PATCH):  # a few events per message, not two per practice
            await self._relays.send(signal, [(handle.id, arg) for handle, arg in told])
            return
        await asyncio.gather(*(signal_if_running(handle, signal, arg) for handle, arg in told))

    @workflow.signal
    async def extend(self, request: ExtendReturns) -> None:
        await self._each(PracticeWorkflow.extend, lambda _: request)

    @workflow.signal
    async def close_returns(self, request: CloseReturns) -> None:
        await self._each(PracticeWorkflow.close_returns, lambda _: request)

    @workflow.signal(name=upward_signals.PRACTICE_RETURNS_CLOSED)
    async def practice_returns_closed(self, closed: PracticeClosed) -> None:
        """A practice closed its returns; once all have, tell the incident."""
        self._closed.add(closed.ods)
        if len(self._closed) == len(self._handles) and self._started:
            parent = workflow.info().parent
            assert parent is not None, "a cohort runs inside an incident"
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                upward_signals.COHORT_RETURNS_CLOSED, CohortClosed(cohort_id=self._cohort_id)
            )

    @workflow.signal
    async def notify_shares(self, shares: CohortShares) -> None:
        await self._each(PracticeWorkflow.notify_share, shares.for_practice)

    @workflow.signal
    async def close_all(self, request: CloseRequest) -> None:
        await self._each(PracticeWorkflow.close_by_parent, lambda _: request)
