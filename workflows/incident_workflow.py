"""The workflow half of the many-practice kinds: carries out an incident's commands by
starting practice cohorts and child cases, relaying messages, and reporting back to the case.

Its own history stays small (a handful of cohorts and children), so it never continues as
new: that would drop the handles of the children it is waiting on (and their parent-close policy
would cancel them). Its news for practices (more time, returns closed, shares, closing) goes to
its cohorts and on to their practices by relay activities, a few events per message at each
level whatever the incident's size (runs recorded before `RELAY_PATCH` signalled each child,
two events a cohort in the incident and two a practice in each cohort).

An incident's practices are listed in its start (as first recorded) or, now, stored once outside
Temporal (`persistence.incident_practices`): its cohorts then read their chunks by an activity,
returns are read back a page at a time, and no payload grows with the incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.incident_lists import IncidentListActivities, ListedQuery, PracticeChunk, ReturnsPageRequest
    from activities.returns import ReturnActivities
    from domain.compensation_claim import CompensationClaimCase
    from domain.confirmation import KIND as CONFIRMATION
    from domain.confirmation import ConfirmationCase
    from domain.escalation import Command
    from domain.incident import (
        ChildState,
        CloseChildren,
        IncidentCase,
        LoadReturns,
        StartChild,
        StartPractices,
        TellPractices,
    )
    from domain.practice_return import Practice
    from domain.responses import ResponseInput
    from workflows import upward_signals
    from workflows.children import RELAY_PATCH, Relays, signal_if_running
    from workflows.confirmation import ConfirmationWorkflow, StartConfirmation
    from workflows.escalation_workflow import (
        ACTIVITY_RETRY,
        CaseView,
        CloseRequest,
        EscalationStart,
        EscalationWorkflow,
    )
    from workflows.practice import CloseReturns, ExtendReturns
    from workflows.practice_cohort import (
        COHORT_SIZE,
        CohortClosed,
        CohortResult,
        CohortShares,
        PracticeCohortWorkflow,
        PracticeCommon,
        StartCohort,
    )


class IncidentStart(EscalationStart):
    """What the many-practice kinds' start models share: their practices listed (as first recorded) or,
    now, stored once outside Temporal (`persistence.incident_practices`) and counted here."""

    practices: list[Practice] = Field(default_factory=list)  # as first recorded; empty when stored
    practice_count: int = 0  # the stored list's size
    practice_parties: list[str] = Field(default_factory=list)  # its codes the LMC declared an interest in
    cohorts_at_once: int = 0  # cohorts starting their practices at one time (0: as many as a task starts)


def child_state(child_id: str, view: CaseView) -> ChildState:
    """What a finished payer request tells its incident: a confirmation's answer, or a claim's agreement."""
    if view.kind == CONFIRMATION:
        confirmed = view.case_as(ConfirmationCase)
        return ChildState(
            child_id=child_id,
            outcome=view.outcome,
            amount_pence=confirmed.amount_pence,
            on_date=confirmed.on_date,
            reference=confirmed.reference,
            reasons=confirmed.reasons,
        )
    claim = view.case_as(CompensationClaimCase)
    due = claim.payment_due
    return ChildState(
        child_id=child_id,
        outcome=view.outcome,
        amount_pence=claim.agreed_pence,
        on_date=due.date() if due is not None else None,
        terms=claim.agreed_terms,
        reasons=claim.last_reasons if view.outcome != "agreed" else None,
    )


COHORTS_PER_TASK = 10
PER_PRACTICE_SHOWN = 1_000
"""A stored-list incident's per-practice collections (claims, shares, late returns) appear in its `summary`
(and its result) only up to this many entries each, so neither grows with the incident; `facts` still
give the totals."""


class IncidentWorkflow(EscalationWorkflow):
    may_continue_as_new = False

    def init_children(self) -> None:
        self._cohorts: list[ChildWorkflowHandle[Any, Any]] = []
        self._cohort_members: list[set[str]] = []
        self._children: dict[str, ChildWorkflowHandle[Any, CaseView]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cohorts_closed: set[str] = set()
        self._cohorts_done = False
        self._positions: dict[str, int] = {}  # a stored list's practices by code: where each is in it
        self._cohorts_ready: set[str] = set()  # a stored list's cohorts that have started all their practices
        self._cohort_total: int | None = None  # how many cohorts a stored list has (they start progressively)
        self._relays = Relays()

    @workflow.signal(name=upward_signals.COHORT_RETURNS_CLOSED)
    def cohort_returns_closed(self, closed: CohortClosed) -> None:
        """A cohort's practices have all closed returns and stored them; when every cohort has, read them."""
        self._cohorts_closed.add(closed.cohort_id)
        if len(self._cohorts_closed) == (self._cohort_total if self._cohort_total is not None else len(self._cohorts)):
            self.outbox.extend(self.incident.on_returns_closed_everywhere())

    @property
    def incident(self) -> IncidentCase:
        assert isinstance(self.case, IncidentCase)
        return self.case

    async def before_completing(self) -> None:
        await asyncio.gather(*self._tasks)

    async def start_claim_child(self, command: StartChild) -> ChildWorkflowHandle[Any, CaseView]:
        """Kinds that negotiate a claim start their claim workflow here."""
        raise NotImplementedError

    async def carry_out_command(self, command: Command) -> None:
        if isinstance(command, StartPractices):
            await self._start_cohorts(command)
        elif isinstance(command, TellPractices):
            await self._tell_practices(command)
        elif isinstance(command, LoadReturns) and self.incident.practices_stored:
            await self._load_stored_returns()
        elif isinstance(command, LoadReturns):
            records = await workflow.execute_activity_method(
                ReturnActivities.load_returns,
                self.case.escalation_id,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=ACTIVITY_RETRY,
            )
            self.outbox.extend(self.incident.on_returns_loaded(records, workflow.now()))
        elif isinstance(command, StartChild):
            await self._start_child(command)
        elif isinstance(command, CloseChildren):
            open_children = [h for t, h in self._children.items() if self.incident.children[t].outcome is None]
            request = CloseRequest(reason=command.reason)
            await asyncio.gather(
                *(signal_if_running(h, EscalationWorkflow.close_by_parent, request) for h in open_children)
            )
        else:
            await super().carry_out_command(command)

    async def before_declaring(self, response: ResponseInput) -> None:
        """A declared interest in one of a stored list's practices makes it a party here, as a listed one is."""
        case = self.incident
        party = (response.text or "").strip().upper()
        if not case.practices_stored or not party or party in case.parties():
            return
        listed = await workflow.execute_activity_method(
            IncidentListActivities.is_listed,
            ListedQuery(parent_id=case.escalation_id, ods=party),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )
        if listed:
            case.practice_parties = sorted({*case.practice_parties, party})

    def case_json(self) -> dict[str, Any]:
        case = self.incident
        if not case.practices_stored:
            return super().case_json()
        big = {name for name in ("claimed", "shares", "late_returns") if len(getattr(case, name)) > PER_PRACTICE_SHOWN}
        return case.model_dump(mode="json", exclude=big)

    async def _load_stored_returns(self) -> None:
        """Every return a page at a time (each activity result bounded), and what is missing, counted."""
        after = ""
        while True:
            page = await workflow.execute_activity_method(
                IncidentListActivities.load_returns_page,
                ReturnsPageRequest(parent_id=self.case.escalation_id, after_ods=after),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=ACTIVITY_RETRY,
            )
            self.incident.tally_returns(list(page.records))  # a page per workflow task
            self._positions.update((r.ods, r.position) for r in page.records if r.position is not None)
            if page.last or not page.records:
                break
            after = page.records[-1].ods
        missing = await workflow.execute_activity_method(
            IncidentListActivities.missing_returns,
            self.case.escalation_id,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=ACTIVITY_RETRY,
        )
        self.outbox.extend(self.incident.on_returns_tallied(workflow.now(), missing))

    @workflow.signal(name=upward_signals.COHORT_PRACTICES_STARTED)
    def cohort_practices_started(self, started: CohortClosed) -> None:
        """A cohort has started all its practices: the next may start (`IncidentStart.cohorts_at_once`)."""
        self._cohorts_ready.add(started.cohort_id)

    async def _start_stored_cohorts(self, command: StartPractices, common: PracticeCommon) -> None:
        """Cohorts over a stored list, started no more than `cohorts_at_once` at a time (each reads its chunk
        and starts its practices before the next begins), so the work in flight stays bounded at any size.

        Each starts with the incident's returns as they are then: the deadline as extended so far, and told
        at once if returns have closed meanwhile."""
        parent = self.case.escalation_id
        at_once = max(int(getattr(self.start, "cohorts_at_once", 0) or COHORTS_PER_TASK), 1)
        offsets = list(range(0, command.practice_count, COHORT_SIZE))
        self._cohort_total = len(offsets)
        for wave in range(0, len(offsets), COHORTS_PER_TASK):
            for n, offset in enumerate(offsets[wave : wave + COHORTS_PER_TASK], start=wave + 1):
                await workflow.wait_condition(
                    lambda: len(self._cohorts) - len(self._cohorts_ready) < at_once or self.case.is_closed
                )
                if self.case.is_closed:  # closed by the officer: the rest are never started
                    self._cohort_total = len(self._cohorts)
                    break
                deadline = self.incident.returns_deadline
                cohort = StartCohort(
                    cohort_id=f"{parent}-C{n:02d}",
                    common=common.model_copy(update={"returns_deadline": deadline}),
                    chunk=PracticeChunk(parent_id=parent, offset=offset, limit=COHORT_SIZE),
                )
                handle = await workflow.start_child_workflow(
                    PracticeCohortWorkflow.run,
                    cohort,
                    id=cohort.cohort_id,
                    parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                )
                self._cohorts.append(handle)
                self._cohort_members.append(set())
                if self.incident.returns_deadline != deadline:  # extended while it was starting
                    extend = ExtendReturns(deadline=self.incident.returns_deadline)
                    await signal_if_running(handle, PracticeCohortWorkflow.extend, extend)
                if not self.incident.returns_open:  # closed while it was starting
                    await signal_if_running(handle, PracticeCohortWorkflow.close_returns, CloseReturns())
                if self.case.is_closed:
                    close = CloseRequest(reason=self.incident.closing_reason or "closed")
                    await signal_if_running(handle, PracticeCohortWorkflow.close_all, close)
            if self.case.is_closed:
                break
        await self._await_cohorts()

    async def _start_cohorts(self, command: StartPractices) -> None:
        case = self.incident
        common = PracticeCommon.of(case, command)
        if command.stored:
            self._tasks.append(asyncio.create_task(self._start_stored_cohorts(command, common)))
            return
        practices = command.practices
        cohorts = [
            StartCohort(
                cohort_id=f"{case.escalation_id}-C{n:02d}", common=common, practices=practices[i : i + COHORT_SIZE]
            )
            for n, i in enumerate(range(0, len(practices), COHORT_SIZE), start=1)
        ]
        for wave in range(0, len(cohorts), COHORTS_PER_TASK):  # bounded commands per workflow task
            self._cohorts += await asyncio.gather(
                *(
                    workflow.start_child_workflow(
                        PracticeCohortWorkflow.run,
                        cohort,
                        id=cohort.cohort_id,
                        parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                    )
                    for cohort in cohorts[wave : wave + COHORTS_PER_TASK]
                )
            )
        self._cohort_members = [{p.ods for p in cohort.practices} for cohort in cohorts]
        self._tasks.append(asyncio.create_task(self._await_cohorts()))

    async def _await_cohorts(self) -> None:
        results = await asyncio.gather(*self._cohorts)
        self._cohorts_done = True
        outcomes: dict[str, str] = {}
        for result in results:
            outcomes.update(CohortResult.model_validate(result).outcomes)
        self.outbox.extend(self.incident.on_practices_settled(outcomes))

    async def _tell_practices(self, command: TellPractices) -> None:
        """Tell every cohort (and through it every practice) the incident's news: by a relay (a few history events
        whatever the incident's size), or, in runs recorded before, a signal per cohort."""
        if self._cohorts_done:
            return
        signal, told = self._news_for_cohorts(command)
        if workflow.patched(RELAY_PATCH):
            await self._relays.send(signal, [(handle.id, arg) for handle, arg in told])
            return
        await asyncio.gather(*(signal_if_running(handle, signal, arg) for handle, arg in told))

    def _news_for_cohorts(
        self, command: TellPractices
    ) -> tuple[Callable[..., Any], list[tuple[ChildWorkflowHandle[Any, Any], BaseModel]]]:
        """The cohorts' signal for `command`, and what each cohort is told."""
        cohorts = self._cohorts
        if command.message == "shares" and self.incident.practices_stored:
            by_cohort: list[dict[str, int]] = [{} for _ in cohorts]
            for ods, amount in (command.amounts or {}).items():
                position = self._positions.get(ods)
                if position is not None and amount:
                    by_cohort[position // COHORT_SIZE][ods] = amount
            notices = [CohortShares(amounts=amounts, notice=command.notice) for amounts in by_cohort]
            return PracticeCohortWorkflow.notify_shares, list(zip(cohorts, notices, strict=True))
        if command.message == "shares":
            listed = command.shares or {}
            shares = [
                CohortShares(shares={ods: n for ods, n in listed.items() if ods in members})
                for members in self._cohort_members
            ]
            return PracticeCohortWorkflow.notify_shares, list(zip(cohorts, shares, strict=True))
        if command.message == "extend":
            assert command.deadline is not None
            return PracticeCohortWorkflow.extend, [(c, ExtendReturns(deadline=command.deadline)) for c in cohorts]
        if command.message == "close_returns":
            return PracticeCohortWorkflow.close_returns, [(c, CloseReturns()) for c in cohorts]
        close = CloseRequest(reason=command.reason or "closed")
        return PracticeCohortWorkflow.close_all, [(c, close) for c in cohorts]

    async def _start_child(self, command: StartChild) -> None:
        case = self.incident
        if command.confirmation is not None:
            handle: ChildWorkflowHandle[Any, CaseView] = await workflow.start_child_workflow(
                ConfirmationWorkflow.run,
                StartConfirmation(
                    escalation_id=command.child_id,
                    request=command.confirmation,
                    lmc=case.lmc,
                    officer=case.officer,
                    payer=command.payer,
                    policy=case.policy,
                    parties=command.parties,
                    rules=case.rules,
                    calendar=case.calendar,
                ),
                id=command.child_id,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            )
        else:
            handle = await self.start_claim_child(command)
        self._children[command.topic] = handle
        self._tasks.append(asyncio.create_task(self._await_child(command.topic, command.child_id, handle)))

    async def _await_child(self, topic: str, child_id: str, handle: ChildWorkflowHandle[Any, CaseView]) -> None:
        view = await handle
        self.outbox.extend(self.incident.on_child_closed(topic, child_state(child_id, view), workflow.now()))


def stored_list(practices: list[Any], count: int, parties: list[str]) -> tuple[int, list[str]] | None:
    """A start that lists no practices but counts them has its list stored: the case keeps count and parties."""
    return (count, parties) if count and not practices else None
