"""A cohort of up to COHORT_SIZE practices: starts their workflows and relays the incident's
messages to them.

Why cohorts: an incident can touch every practice in England (about 6,300). Starting and
signalling that many children from one workflow would put tens of thousands of events in
its history. A cohort's history stays near 2,500 events (start, three or four broadcasts and
a completion per practice), and the incident's holds only its cohorts. Each practice is its
own workflow, so one stuck return never holds another.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from domain.practice_return import ShareNotice
    from workflows.children import signal_if_running
    from workflows.escalation_workflow import CaseView, CloseRequest
    from workflows.practice import CloseReturns, ExtendReturns, PracticeClosed, PracticeWorkflow, StartPractice

COHORT_SIZE = 100


class StartCohort(BaseModel):
    cohort_id: str
    practices: list[StartPractice]


class CohortShares(BaseModel):
    shares: dict[str, ShareNotice]


class CohortClosed(BaseModel):
    cohort_id: str


class CohortResult(BaseModel):
    outcomes: dict[str, str]


@workflow.defn(name="PracticeCohort")
class PracticeCohortWorkflow:
    @workflow.init
    def __init__(self, start: StartCohort) -> None:
        self._handles: dict[str, ChildWorkflowHandle[Any, CaseView]] = {}
        self._started = False
        self._closed: set[str] = set()
        self._outcomes: dict[str, str] = {}
        self._cohort_id = start.cohort_id

    @workflow.run
    async def run(self, start: StartCohort) -> CohortResult:
        started = await asyncio.gather(
            *(
                workflow.start_child_workflow(
                    PracticeWorkflow.run,
                    practice,
                    id=practice.escalation_id,
                    parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                )
                for practice in start.practices
            )
        )
        self._handles = {p.practice.ods: handle for p, handle in zip(start.practices, started, strict=True)}
        self._started = True
        results = await asyncio.gather(*self._handles.values())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CohortResult(
            outcomes={ods: view.outcome or "" for ods, view in zip(self._handles, results, strict=True)}
        )

    async def _each(self, signal: str, make_arg: Any) -> None:
        await workflow.wait_condition(lambda: self._started)
        sends = []
        for ods, handle in self._handles.items():
            arg = make_arg(ods)
            if arg is not None and ods not in self._outcomes:  # finished practices need no word
                sends.append(signal_if_running(handle, signal, arg))
        await asyncio.gather(*sends)

    @workflow.signal
    async def extend(self, request: ExtendReturns) -> None:
        await self._each("extend", lambda _: request)

    @workflow.signal
    async def close_returns(self, request: CloseReturns) -> None:
        await self._each("close_returns", lambda _: request)

    @workflow.signal
    async def practice_returns_closed(self, closed: PracticeClosed) -> None:
        """A practice closed its returns; once all have, tell the incident."""
        self._closed.add(closed.ods)
        if len(self._closed) == len(self._handles) and self._started:
            parent = workflow.info().parent
            assert parent is not None, "a cohort runs inside an incident"
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                "cohort_returns_closed", CohortClosed(cohort_id=self._cohort_id)
            )

    @workflow.signal
    async def notify_shares(self, shares: CohortShares) -> None:
        await self._each("notify_share", lambda ods: shares.shares.get(ods))

    @workflow.signal
    async def close_all(self, request: CloseRequest) -> None:
        await self._each("close_by_parent", lambda _: request)
