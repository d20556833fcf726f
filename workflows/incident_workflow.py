"""The workflow half of the many-practice kinds: carries out an incident's commands by
starting practice cohorts and child cases, relaying messages, and reporting back to the case.

An incident over a stored list (`DETACHED_PATCH` on) starts its cohorts and payers' requests abandoned on
close and hears how they end by signal (`upward_signals.COHORT_SETTLED`, `CHILD_CLOSED`), so it holds no
handle a new run would lose: it continues as new when Temporal suggests it, writing its per-practice money
outside the history first (`persistence.incident_tallies`) and reading it back in the next run. Runs recorded
before kept their handles and never continued as new: they say so when their history is long. Its news for
practices (more time, returns closed, shares, closing) goes to
its cohorts and on to their practices by relay activities, a few events per message at each
level whatever the incident's size (runs recorded before `RELAY_PATCH` signalled each child,
two events a cohort in the incident and two a practice in each cohort).

An incident's practices are listed in its start (as first recorded) or, now, stored once outside
Temporal (`persistence.incident_practices`): its cohorts then read their chunks by an activity,
returns are read back a page at a time, and no payload grows with the incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.incident_lists import (
        TALLY_PAGE,
        IncidentListActivities,
        ListedQuery,
        PracticeChunk,
        ReturnsPageRequest,
        TallyPage,
        TallyPageRequest,
    )
    from activities.returns import ReturnActivities
    from domain.compensation_claim import CompensationClaimCase
    from domain.confirmation import KIND as CONFIRMATION
    from domain.confirmation import ConfirmationCase
    from domain.escalation import Command
    from domain.incident import (
        ChildState,
        CloseChildren,
        IncidentCase,
        ListedReturn,
        LoadReturns,
        StartChild,
        StartPractices,
        TallyEntry,
        TellPractices,
    )
    from domain.practice_return import Practice
    from domain.responses import ResponseInput
    from workflows import upward_signals
    from workflows.children import RELAY_PATCH, Relays, signal_if_running
    from workflows.confirmation import ConfirmationWorkflow, StartConfirmation
    from workflows.escalation_workflow import (
        ACTIVITY_RETRY,
        RESUMING,
        Carried,
        CaseT,
        CaseView,
        ChildClosed,
        CloseRequest,
        EscalationStart,
        EscalationWorkflow,
    )
    from workflows.practice import CloseReturns, ExtendReturns
    from workflows.practice_cohort import (
        COHORT_SIZE,
        CohortClosed,
        CohortResult,
        CohortSettled,
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


class _Coded(Protocol):
    @property
    def ods(self) -> str: ...


P = TypeVar("P", bound=_Coded)

DETACHED_PATCH = "incident-children-report-by-signal"
"""From this patch on, an incident over a stored list starts its cohorts and payers' requests abandoned on close
and hears how they end by signal, so it may continue as new; runs recorded before await their handles."""


class FanOut(BaseModel):
    """An incident's bookkeeping of its cohorts and children, carried across continue-as-new. Bounded: cohort
    IDs number one per hundred practices, outcomes are counted, per-practice money is stored outside."""

    detached: bool = False  # started under `DETACHED_PATCH`: cohorts and children report by signal
    cohort_total: int | None = None  # how many cohorts a stored list has (they start progressively)
    cohorts_started: int = 0
    started_all: bool = False  # every cohort has been started (or the incident closed before the rest)
    cohorts_closed: list[str] = Field(default_factory=list)  # cohorts whose practices have all closed returns
    cohorts_settled: list[str] = Field(default_factory=list)  # cohorts whose practices have all closed
    outcomes: dict[str, int] = Field(default_factory=dict)  # how the settled cohorts' practices closed, counted
    tallies_stored: bool = False  # the case's per-practice money was written outside before this run began


class CarriedIncident(Carried[CaseT], Generic[CaseT]):
    """What an incident's run hands the next: its case (without its per-practice money, which is stored) and
    its cohorts' and children's bookkeeping."""

    fan_out: FanOut | None = None


class IncidentWorkflow(EscalationWorkflow):
    may_continue_as_new = False  # but for a detached run (`may_continue`)

    def init_children(self, start: BaseModel | None = None) -> None:
        carried = getattr(start, "carried", None)
        self._fan_out = getattr(carried, "fan_out", None) or FanOut()
        self._resuming = self._fan_out.tallies_stored  # the case's per-practice money is still to be read back
        self._cohorts: list[ChildWorkflowHandle[Any, Any]] = []  # this run's handles (runs that await them)
        self._cohort_members: list[set[str]] = []
        self._children: dict[str, ChildWorkflowHandle[Any, CaseView]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cohorts_done = False
        self._positions: dict[str, int] = {}  # a stored list's practices by code: where each is in it
        self._cohorts_ready: set[str] = set()  # a stored list's cohorts that have started all their practices
        self._relays = Relays()

    @workflow.signal(name=upward_signals.COHORT_RETURNS_CLOSED)
    def cohort_returns_closed(self, closed: CohortClosed) -> None:
        """A cohort's practices have all closed returns and stored them; when every cohort has, read them."""
        fan_out = self._fan_out
        if closed.cohort_id in fan_out.cohorts_closed:
            return
        fan_out.cohorts_closed.append(closed.cohort_id)
        total = fan_out.cohort_total if fan_out.cohort_total is not None else len(self._cohorts)
        if len(fan_out.cohorts_closed) == total:
            self.outbox.extend(self.incident.on_returns_closed_everywhere())

    @workflow.signal(name=upward_signals.COHORT_SETTLED)
    async def cohort_settled(self, settled: CohortSettled) -> None:
        """A detached cohort's practices have all closed: once every cohort's have, the incident may settle."""
        await self.resumed()
        fan_out = self._fan_out
        if settled.cohort_id in fan_out.cohorts_settled:
            return
        fan_out.cohorts_settled.append(settled.cohort_id)
        for outcome in settled.outcomes.values():
            fan_out.outcomes[outcome] = fan_out.outcomes.get(outcome, 0) + 1
        self._settle_if_every_cohort_has()

    @workflow.signal(name=upward_signals.CHILD_CLOSED)
    async def child_closed(self, closed: ChildClosed) -> None:
        """A detached payer's request has closed: as an awaited one's result would say (its shares, say, computed
        from the claims a new run reads back first)."""
        await self.resumed()
        case = self.incident
        topic = next((t for t, child in case.children.items() if child.child_id == closed.child_id), None)
        if topic is None or case.children[topic].outcome is not None:  # not ours, or heard already
            return
        self.outbox.extend(case.on_child_closed(topic, child_state(closed.child_id, closed.view), workflow.now()))

    def _settle_if_every_cohort_has(self) -> None:
        fan_out = self._fan_out
        if self.incident.practices_settled or not fan_out.started_all:
            return
        if len(fan_out.cohorts_settled) >= (fan_out.cohort_total or 0):
            self.outbox.extend(self.incident.on_practices_settled(counted=fan_out.outcomes))

    @property
    def incident(self) -> IncidentCase:
        assert isinstance(self.case, IncidentCase)
        return self.case

    # --- continuing as new (detached runs) ---------------------------------------------------
    def may_continue(self) -> bool:
        """A detached run, once every cohort has started, holds nothing a new run would lose."""
        return self._fan_out.detached and self._fan_out.started_all

    async def before_continuing(self) -> None:
        """Write the per-practice money outside the history, a page per local activity, for the next run to read."""
        entries = self.incident.tally_entries(self._positions)
        for n in range(0, len(entries), TALLY_PAGE):
            await workflow.execute_local_activity_method(
                IncidentListActivities.save_tally_page,
                TallyPage(parent_id=self.case.escalation_id, entries=entries[n : n + TALLY_PAGE]),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=ACTIVITY_RETRY,
            )
        self._fan_out.tallies_stored = bool(entries)

    def carry_over(self) -> BaseModel:
        case = self.incident.without_tallies() if self._fan_out.tallies_stored else self.incident
        carried = self.carried_model(case=case, progress=self.progress, fan_out=self._fan_out)
        return self.start.model_copy(update={"carried": carried})

    async def on_resume(self) -> None:
        """Read back what the previous run stored (`before_continuing`), a page per local activity: inside the
        run's first workflow task, so no query ever sees the case without it."""
        if not self._fan_out.tallies_stored:
            return

        async def read(after: str) -> tuple[list[TallyEntry], bool]:
            page = await workflow.execute_local_activity_method(
                IncidentListActivities.load_tally_page,
                TallyPageRequest(parent_id=self.case.escalation_id, after_ods=after),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=ACTIVITY_RETRY,
            )
            return page.entries, page.last

        await by_pages(read, self._take_back)
        self._resuming = False

    async def resumed(self) -> None:
        if self._resuming:
            await workflow.wait_condition(lambda: not self._resuming)

    def _take_back(self, entries: list[TallyEntry]) -> None:
        self.incident.restore_tallies(entries)
        self._place(entries)

    def _place(self, practices: Sequence[TallyEntry | ListedReturn]) -> None:
        """Where each practice sits in the stored list (so which cohort its share goes to), where known."""
        self._positions.update((p.ods, p.position) for p in practices if p.position is not None)

    # --- commands ------------------------------------------------------------------------------
    async def before_completing(self) -> None:
        await asyncio.gather(*self._tasks)
        if self._fan_out.detached:  # every cohort and request has said how it ended, as awaiting them would
            await workflow.wait_condition(
                lambda: (
                    (self.incident.practices_settled or not self._fan_out.cohorts_started)
                    and not self.incident.must_wait_for()
                )
            )

    async def start_claim_child(self, command: StartChild) -> ChildWorkflowHandle[Any, CaseView]:
        """Kinds that negotiate a claim start their claim workflow here (`child_options` say how)."""
        raise NotImplementedError

    def child_options(self) -> tuple[ParentClosePolicy, bool]:
        """How a payer's request starts: abandoned on close and reporting by signal (a detached run), or
        cancelled with the incident and awaited."""
        if self._fan_out.detached:
            return ParentClosePolicy.ABANDON, True
        return ParentClosePolicy.REQUEST_CANCEL, False

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
            await self._close_children(command)
        else:
            await super().carry_out_command(command)

    async def _close_children(self, command: CloseChildren) -> None:
        request = CloseRequest(reason=command.reason)
        if self._fan_out.detached:  # by ID: a run continued as new holds no handles
            open_ids = [child.child_id for child in self.incident.children.values() if child.outcome is None]
            handles: list[Any] = [workflow.get_external_workflow_handle(child_id) for child_id in open_ids]
        else:
            handles = [h for t, h in self._children.items() if self.incident.children[t].outcome is None]
        await asyncio.gather(*(signal_if_running(h, EscalationWorkflow.close_by_parent, request) for h in handles))

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
        if self._resuming:  # a query before the run's first task has read its claims back: never a partial case
            raise ApplicationError(RESUMING, type="Resuming")
        case = self.incident
        if not case.practices_stored:
            return super().case_json()
        big = {name for name in ("claimed", "shares", "late_returns") if len(getattr(case, name)) > PER_PRACTICE_SHOWN}
        return case.model_dump(mode="json", exclude=big)

    async def _load_stored_returns(self) -> None:
        """Every return a page at a time (each activity result bounded), and what is missing, counted."""

        async def read(after: str) -> tuple[list[ListedReturn], bool]:
            page = await workflow.execute_activity_method(
                IncidentListActivities.load_returns_page,
                ReturnsPageRequest(parent_id=self.case.escalation_id, after_ods=after),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=ACTIVITY_RETRY,
            )
            return page.records, page.last

        def tally(records: list[ListedReturn]) -> None:  # a page per workflow task
            self.incident.tally_returns(list(records))
            self._place(records)

        await by_pages(read, tally)
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
        fan_out = self._fan_out
        policy = ParentClosePolicy.ABANDON if fan_out.detached else ParentClosePolicy.REQUEST_CANCEL
        at_once = max(int(getattr(self.start, "cohorts_at_once", 0) or COHORTS_PER_TASK), 1)
        offsets = list(range(0, command.practice_count, COHORT_SIZE))
        fan_out.cohort_total = len(offsets)
        for wave in range(0, len(offsets), COHORTS_PER_TASK):
            for n, offset in enumerate(offsets[wave : wave + COHORTS_PER_TASK], start=wave + 1):
                await workflow.wait_condition(
                    lambda: len(self._cohorts) - len(self._cohorts_ready) < at_once or self.case.is_closed
                )
                if self.case.is_closed:  # closed by the officer: the rest are never started
                    fan_out.cohort_total = len(self._cohorts)
                    break
                deadline = self.incident.returns_deadline
                cohort = StartCohort(
                    cohort_id=cohort_id(parent, n),
                    common=common.model_copy(update={"returns_deadline": deadline}),
                    chunk=PracticeChunk(parent_id=parent, offset=offset, limit=COHORT_SIZE),
                    report_by_signal=fan_out.detached,
                )
                handle = await workflow.start_child_workflow(
                    PracticeCohortWorkflow.run, cohort, id=cohort.cohort_id, parent_close_policy=policy
                )
                self._cohorts.append(handle)
                self._cohort_members.append(set())
                fan_out.cohorts_started = len(self._cohorts)
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
        if not fan_out.detached:
            await self._await_cohorts()
            return
        fan_out.started_all = True
        self._settle_if_every_cohort_has()

    async def _start_cohorts(self, command: StartPractices) -> None:
        case = self.incident
        common = PracticeCommon.of(case, command)
        if command.stored:
            self._fan_out.detached = workflow.patched(DETACHED_PATCH)
            self._tasks.append(asyncio.create_task(self._start_stored_cohorts(command, common)))
            return
        practices = command.practices
        cohorts = [
            StartCohort(
                cohort_id=cohort_id(case.escalation_id, n), common=common, practices=practices[i : i + COHORT_SIZE]
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
        self._fan_out.cohorts_started = len(self._cohorts)
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
        if self._cohorts_done or self.incident.practices_settled:
            return
        signal, told = self._news_for_cohorts(command)
        if self._fan_out.detached or workflow.patched(RELAY_PATCH):
            await self._relays.send(signal, told)
            return
        handles = {handle.id: handle for handle in self._cohorts}
        await asyncio.gather(*(signal_if_running(handles[cohort], signal, arg) for cohort, arg in told))

    def _news_for_cohorts(self, command: TellPractices) -> tuple[Callable[..., Any], list[tuple[str, BaseModel]]]:
        """The cohorts' signal for `command`, and what each cohort (by ID) is told."""
        parent = self.case.escalation_id
        cohorts = [cohort_id(parent, n) for n in range(1, self._fan_out.cohorts_started + 1)]
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
        policy, report = self.child_options()
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
                    report_to_parent=report,
                ),
                id=command.child_id,
                parent_close_policy=policy,
            )
        else:
            handle = await self.start_claim_child(command)
        self._children[command.topic] = handle
        if not report:
            self._tasks.append(asyncio.create_task(self._await_child(command.topic, command.child_id, handle)))

    async def _await_child(self, topic: str, child_id: str, handle: ChildWorkflowHandle[Any, CaseView]) -> None:
        view = await handle
        self.outbox.extend(self.incident.on_child_closed(topic, child_state(child_id, view), workflow.now()))


async def by_pages(read: Callable[[str], Awaitable[tuple[list[P], bool]]], take: Callable[[list[P]], None]) -> None:
    """Read a store kept by ODS code a page at a time (`read(after_code)` gives a page and whether it is the last),
    handing each to `take`: one activity and one bounded result a page, whatever the incident's size."""
    after = ""
    while True:
        page, last = await read(after)
        take(page)
        if last or not page:
            return
        after = page[-1].ods


def cohort_id(parent_id: str, n: int) -> str:
    """The workflow ID of an incident's `n`th cohort (from 1)."""
    return f"{parent_id}-C{n:02d}"


def incident_family(escalation_id: str, case: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The workflow IDs of what an incident (its case as `summary` shows it) starts: every cohort it may have
    started, and its payers' requests. Ops stopping an incident stop these too (`service.acting.stop`)."""
    if "practice_count" not in case:  # not an incident
        return [], []
    count = int(case.get("practice_count") or 0) or len(case.get("practices") or [])
    cohorts = [cohort_id(escalation_id, n) for n in range(1, -(-count // COHORT_SIZE) + 1)]
    return cohorts, [str(child["child_id"]) for child in (case.get("children") or {}).values()]


def stored_list(practices: list[Any], count: int, parties: list[str]) -> tuple[int, list[str]] | None:
    """A start that lists no practices but counts them has its list stored: the case keeps count and parties."""
    return (count, parties) if count and not practices else None
