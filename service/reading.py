"""Reading escalations: one case's view, lists through Temporal visibility, and the work report."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.client import Client, WorkflowExecution
from temporalio.common import SearchAttributeKey

from domain.escalation import PRACTICE_CODE
from domain.report import ReportLine, in_period
from domain.report_breakdown import Placed
from service.gate import ListFilters, admit
from service.refusals import Refused, temporal_refusals
from workflows import search_attributes as sa
from workflows.escalation_workflow import CaseView, EscalationWorkflow

REPORT_QUERIES_AT_ONCE = 16
REPORT_QUERY_TIMEOUT = timedelta(seconds=3)
"""A report asks every escalation for its figures at once (16 at a time); one whose worker cannot answer
within this is left out, so one stuck escalation never holds up the page."""


@dataclass(frozen=True)
class EscalationRow:
    """One escalation as a list shows it, from its search attributes alone (no call per row)."""

    id: str
    kind: str | None
    status: str | None
    payer: str | None
    level: int | None
    overdue: bool
    stalled: bool
    underpaid: bool
    holder: str | None
    next_deadline: datetime | None
    started: datetime
    title: str | None = None
    practices: tuple[str, ...] = ()
    practice_count: int | None = None
    claimed_pence: int | None = None
    agreed_pence: int | None = None
    paid_pence: int | None = None
    held: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "payer": self.payer,
            "level": self.level,
            "overdue": self.overdue,
            "stalled": self.stalled,
            "underpaid": self.underpaid,
            "holder": self.holder,
            "next_deadline": self.next_deadline.isoformat() if self.next_deadline else None,
            "started": self.started.isoformat(),
            "title": self.title,
            "practices": list(self.practices),
            "claimed_pence": self.claimed_pence,
            "agreed_pence": self.agreed_pence,
            "paid_pence": self.paid_pence,
            "emails_held": self.held,
        }


async def summary(client: Client, escalation_id: str, timeout: timedelta = timedelta(seconds=10)) -> CaseView:
    with temporal_refusals(escalation_id):
        return await client.get_workflow_handle(escalation_id).query(EscalationWorkflow.summary, rpc_timeout=timeout)


def list_query(filters: ListFilters) -> str:
    """A visibility query; without a kind, the escalations officers start (not their parts)."""
    from kinds import KINDS  # here, not at import: `show` and `history` never need the registry

    kinds = ", ".join(f"'{spec.name}'" for spec in KINDS)
    # Without a kind, the escalations officers start; but a short-paid practice is listed with them.
    parts = filters.kind or filters.underpaid or filters.parts or filters.search
    clauses = [] if parts else [f"{sa.KIND.name} IN ({kinds})"]
    for key, value in ((sa.KIND, filters.kind), (sa.STATUS, filters.status), (sa.PAYER, filters.payer)):
        if value:  # the gate allowed only letters, digits and underscores
            clauses.append(f"{key.name} = '{value}'")
    if filters.overdue:
        clauses.append(f"{sa.OVERDUE.name} = true")
    if filters.stalled:
        clauses.append(f"{sa.STALLED.name} = true")
    if filters.underpaid:
        clauses.append(f"{sa.UNDERPAID.name} = true")
    if filters.level:
        clauses.append(f"{sa.LADDER_LEVEL.name} = {int(filters.level)}")
    if filters.held:
        clauses.append(f"{sa.EMAILS_HELD.name} = 'yes'")
    clauses += [search_clause(word) for word in (filters.search or "").split()]
    return " AND ".join(clauses)


_REFERENCE = re.compile(r"[A-Z]{2,5}-[A-Z0-9-]*")


def search_clause(word: str) -> str:
    """One searched word as a visibility clause: an ODS code, a contact's address, the start of a
    reference, or a word of the title. The gate (`SearchWords`) let through no quote or operator."""
    if PRACTICE_CODE.fullmatch(word.upper()):
        return f"{sa.PRACTICES.name} = '{word.upper()}'"
    if "@" in word:
        return f"{sa.CONTACTS.name} = '{word.lower()}'"
    if _REFERENCE.fullmatch(word.upper()):
        return f"WorkflowId STARTS_WITH '{word.upper()}'"
    return f"{sa.TITLE.name} = '{word}'"


def row_from_record(info: WorkflowExecutionInfo) -> EscalationRow:
    """A list row straight from a visibility record: search attributes are plain JSON payloads (never
    encoded by the payload codec), so each is read with one `json.loads`, not the SDK's typed decoding."""
    fields = info.search_attributes.indexed_fields

    def value(key: SearchAttributeKey[Any]) -> Any:
        payload = fields.get(key.name)
        return json.loads(payload.data) if payload is not None and payload.data else None

    deadline = value(sa.NEXT_DEADLINE)
    return EscalationRow(
        id=info.execution.workflow_id,
        kind=value(sa.KIND),
        status=value(sa.STATUS),
        payer=value(sa.PAYER),
        level=value(sa.LADDER_LEVEL),
        overdue=bool(value(sa.OVERDUE)),
        stalled=bool(value(sa.STALLED)),
        underpaid=bool(value(sa.UNDERPAID)),
        holder=value(sa.BALL_HOLDER),
        next_deadline=datetime.fromisoformat(deadline) if isinstance(deadline, str) else None,
        started=info.start_time.ToDatetime(tzinfo=UTC),
        title=value(sa.TITLE),
        practices=tuple(value(sa.PRACTICES) or ()),
        practice_count=value(sa.PRACTICE_COUNT),
        claimed_pence=sa.pence_of(value(sa.CLAIMED)),
        agreed_pence=sa.pence_of(value(sa.AGREED)),
        paid_pence=sa.pence_of(value(sa.PAID)),
        held=value(sa.EMAILS_HELD) == "yes",
    )


def row_of(wf: WorkflowExecution) -> EscalationRow:
    """A list row from one visibility record's search attributes."""
    attrs = wf.typed_search_attributes
    return EscalationRow(
        id=wf.id,
        kind=attrs.get(sa.KIND),
        status=attrs.get(sa.STATUS),
        payer=attrs.get(sa.PAYER),
        level=attrs.get(sa.LADDER_LEVEL),
        overdue=bool(attrs.get(sa.OVERDUE)),
        stalled=bool(attrs.get(sa.STALLED)),
        underpaid=bool(attrs.get(sa.UNDERPAID)),
        holder=attrs.get(sa.BALL_HOLDER),
        next_deadline=attrs.get(sa.NEXT_DEADLINE),
        started=wf.start_time,
        title=attrs.get(sa.TITLE),
        practices=tuple(attrs.get(sa.PRACTICES) or ()),
        practice_count=attrs.get(sa.PRACTICE_COUNT),
        claimed_pence=sa.pence_of(attrs.get(sa.CLAIMED)),
        agreed_pence=sa.pence_of(attrs.get(sa.AGREED)),
        paid_pence=sa.pence_of(attrs.get(sa.PAID)),
        held=attrs.get(sa.EMAILS_HELD) == "yes",
    )


async def list_escalations(client: Client, query: str) -> list[EscalationRow]:
    rows = []
    with temporal_refusals("the list"):
        async for wf in client.list_workflows(query):
            rows.append(row_of(wf))
    return rows


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
