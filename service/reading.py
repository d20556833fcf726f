"""Reading escalations: one case's view, lists through Temporal visibility (`service/listing.py`, named here
too), and the work report."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError

from domain.report import ReportLine, in_period
from domain.report_breakdown import Placed
from service.gate import ListFilters, admit
from service.listing import EscalationRow, list_escalations, list_query
from service.refusals import Refused, temporal_refusals
from workflows.escalation_workflow import RESUMING, CaseView, EscalationWorkflow

__all__ = ["EscalationRow", "list_escalations", "list_query", "report_entries", "report_lines", "summary"]

REPORT_QUERIES_AT_ONCE = 16
REPORT_QUERY_TIMEOUT = timedelta(seconds=3)
"""A report asks every escalation for its figures at once (16 at a time); one whose worker cannot answer
within this is left out, so one stuck escalation never holds up the page."""


RESUMING_RETRIES = 20
"""Times a query is asked again, 0.1 s apart, while an incident's new run reads back its claims (a second or two
at most: `workflows.incident_workflow.RESUMING`)."""


async def summary(client: Client, escalation_id: str, timeout: timedelta = timedelta(seconds=10)) -> CaseView:
    """The case as its workflow shows it; one ops stopped, as stopped (`CaseView.stopped`), since a stopped run
    answers with its state at the moment it stopped."""
    handle = client.get_workflow_handle(escalation_id)
    with temporal_refusals(escalation_id):
        view = await _query(handle, timeout)
        if view.outcome is None and await _stopped_by_ops(client, escalation_id, timeout):
            return view.stopped()
        return view


STOPPED_BY_OPS = (WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.CANCELED)


async def _stopped_by_ops(client: Client, escalation_id: str, timeout: timedelta) -> bool:
    """Temporal says the run was terminated or cancelled: asked raw, as its status alone is needed (the SDK's
    `describe` decodes every search attribute too)."""
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=escalation_id)
        ),
        timeout=timeout,
    )
    return WorkflowExecutionStatus(described.workflow_execution_info.status) in STOPPED_BY_OPS


async def _query(handle: WorkflowHandle[Any, Any], timeout: timedelta) -> CaseView:
    for _ in range(RESUMING_RETRIES):
        try:
            return await handle.query(EscalationWorkflow.summary, rpc_timeout=timeout)
        except WorkflowQueryFailedError as err:
            if RESUMING not in err.message:
                raise
        await asyncio.sleep(0.1)
    return await handle.query(EscalationWorkflow.summary, rpc_timeout=timeout)


async def report_lines(
    client: Client, payer: str | None, start: date | None, end: date | None
) -> dict[str, list[ReportLine]]:
    """What each escalation to `payer` (all payers if None) contributes to the report for the
    period [start, end], by reference; each kind's contribution is its domain's `report_lines()`."""
    query = list_query(admit(ListFilters, {"payer": payer})) + " AND ExecutionStatus != 'Terminated'"
    rows = await list_escalations(client, query)
    gate = asyncio.Semaphore(REPORT_QUERIES_AT_ONCE)

    async def contribution(escalation_id: str) -> list[ReportLine]:
        async with gate:
            try:
                view = await summary(client, escalation_id, timeout=REPORT_QUERY_TIMEOUT)
            except Refused:  # no worker can answer for it now: left out rather than holding the report up
                return []
        return [line for line in view.report_lines if in_period(line, start, end)]

    found = await asyncio.gather(*(contribution(row.id) for row in rows))
    return {row.id: within for row, within in zip(rows, found, strict=True) if within}


async def report_entries(client: Client, payer: str | None, start: date | None, end: date | None) -> list[Placed]:
    """Every report line of every kind for the period [start, end] and `payer` (all if None), each with its
    escalation and the ICB it sits under; an escalation whose worker cannot answer in time is left out."""
    query = list_query(admit(ListFilters, {"payer": payer})) + " AND ExecutionStatus != 'Terminated'"
    rows = await list_escalations(client, query)
    gate = asyncio.Semaphore(REPORT_QUERIES_AT_ONCE)

    async def contribution(escalation_id: str) -> list[Placed]:
        async with gate:
            try:
                view = await summary(client, escalation_id, timeout=REPORT_QUERY_TIMEOUT)
            except Refused:
                return []
        payer_org = view.header.payer
        icb = view.case.get("icb") if payer_org.kind != "icb" else None
        icb_name = icb.get("name", payer_org.name) if isinstance(icb, dict) else payer_org.name
        return [
            Placed(escalation_id=escalation_id, icb=icb_name, line=line)
            for line in view.report_lines
            if in_period(line, start, end)
        ]

    found = await asyncio.gather(*(contribution(row.id) for row in rows))
    return [placed for within in found for placed in within]
