"""Lists of escalations through Temporal visibility, from search attributes alone (no call per row).

Kept apart from `service/reading.py` (one case's view, the report) so `starter.py list` imports only this: not
the workflows, activities or database layer a case's view brings in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client

from service.gate import ListFilters
from service.refusals import temporal_refusals
from workflows import search_attributes as sa

TOP_LEVEL_KINDS: tuple[str, ...] = ("unfunded_claim", "pathology_error", "deregistration")
"""The kinds officers start, named here rather than read from the registry (`kinds/`), whose import brings in
every workflow, activity and the database layer; tests/test_listing.py keeps it equal to the registry's, so a
new kind adds its name here too."""


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
        }


def list_query(filters: ListFilters) -> str:
    """A visibility query; without a kind, the escalations officers start (not their parts)."""
    kinds = ", ".join(f"'{name}'" for name in TOP_LEVEL_KINDS)
    # Without a kind, the escalations officers start; but a short-paid practice is listed with them.
    clauses = [] if filters.kind or filters.underpaid else [f"{sa.KIND.name} IN ({kinds})"]
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
    return " AND ".join(clauses)


async def list_escalations(client: Client, query: str) -> list[EscalationRow]:
    rows = []
    with temporal_refusals("the list"):
        async for wf in client.list_workflows(query):
            attrs = wf.typed_search_attributes
            rows.append(
                EscalationRow(
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
                )
            )
    return rows
