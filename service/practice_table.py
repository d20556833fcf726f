"""An incident's practices in one table: who each is, whether and when it returned, what it counted, what it
claims, its share and what it received. Read from the incident's own state (one query), the stored returns
(one read) and its practices' requests in visibility (one paged query): never a call per practice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client

from domain.formatting import count, counted
from domain.money import format_pence
from domain.payment import gap
from persistence.incident_practices import IncidentPractices
from persistence.practice_returns import PracticeReturns
from service import listing
from workflows import search_attributes as sa
from workflows.escalation_workflow import CaseView

PAYMENT_FILTERS = {
    "awaiting": "share not yet paid",
    "paid": "paid in full",
    "underpaid": "underpaid",
    "overpaid": "overpaid",
    "none_due": "nothing due",
}


@dataclass(frozen=True)
class PracticeLine:
    ods: str
    name: str
    contact: str
    request_id: str
    returned: bool
    late: bool
    corrections: int
    counted: str  # what the return counted, in words
    items: int
    claimed_pence: int | None
    share_pence: int | None
    received_pence: int | None
    status: str
    payment: str  # one of PAYMENT_FILTERS' keys, or "" before any share

    @property
    def gap_pence(self) -> int | None:
        return gap(self.received_pence, self.share_pence)

    @property
    def payment_words(self) -> str:
        difference = self.gap_pence
        if self.payment == "underpaid" and difference is not None:
            return f"underpaid by {format_pence(-difference)}"
        if self.payment == "overpaid" and difference is not None:
            return f"overpaid by {format_pence(difference)}"
        return PAYMENT_FILTERS.get(self.payment, "no share yet")


def _counted(record: dict[str, Any] | None) -> tuple[str, int]:
    if record is None:
        return "", 0
    counts = record.get("counts")
    if isinstance(counts, dict):
        shown = ", ".join(f"{item.replace('_', ' ')}: {n}" for item, n in counts.items())
        return shown, sum(n for n in counts.values() if isinstance(n, int))
    groups = record.get("groups")
    if isinstance(groups, list):
        patients = sum(g.get("patients", 0) for g in groups if isinstance(g, dict))
        return f"{counted(patients, 'patient')} in {counted(len(groups), 'group')}", patients
    return "", 0


TABLE_LIMIT = 25_000
"""Practices one table shows: an incident's whole stored list up to the configured maximum."""


def returns_in(lines: list[PracticeLine]) -> str:
    """How many of an incident's practices have returned: '40 practices; 31 returned, 1 late'."""
    late = sum(1 for line in lines if line.late)
    returned = sum(1 for line in lines if line.returned)
    return f"{counted(len(lines), 'practice')}; {count(returned)} returned{f', {count(late)} late' if late else ''}"


def payment_state(share: int | None, received: int | None, shares_given: bool) -> str:
    """One of `PAYMENT_FILTERS`' keys, or "" before any share: once shares are given out, a practice with none (no
    return, or a nil one) has nothing due, as its request says, not 'no share yet'."""
    if shares_given and not share:
        return "overpaid" if received else "none_due"
    if share is None:
        return ""
    difference = gap(received, share)
    if difference is None:
        return "awaiting"
    return "underpaid" if difference < 0 else "overpaid" if difference > 0 else "paid"


async def practice_table(client: Client, engine: Engine, view: CaseView) -> list[PracticeLine]:
    """Every practice of the incident `view`, in ODS code order."""
    case = view.case
    records = {r["ods"]: r for r in PracticeReturns(engine).for_incident(view.escalation_id) if "ods" in r}
    query = f"WorkflowId STARTS_WITH '{view.escalation_id}-' AND {sa.KIND.name} = 'practice_return'"
    requests = {row.id: row for row in await listing.all_rows(client, query)}
    claimed: dict[str, int] = case.get("claimed") or {}
    shares: dict[str, int] = case.get("shares") or {}
    late_returns = set(case.get("late_returns") or [])
    lines = []
    listed = case.get("practices") or IncidentPractices(engine).chunk(view.escalation_id, 0, TABLE_LIMIT)
    for practice in listed:
        ods = practice["ods"]
        request_id = f"{view.escalation_id}-{ods}"
        record = records.get(ods)
        row = requests.get(request_id)
        counted, items = _counted(record)
        share = shares.get(ods)
        received = row.paid_pence if row is not None and row.paid_pence else None
        payment = payment_state(share, received, shares_given=bool(shares))
        lines.append(
            PracticeLine(
                ods=ods,
                name=practice.get("name", ""),
                contact=(practice.get("contact") or {}).get("email", ""),
                request_id=request_id,
                returned=record is not None,
                late=ods in late_returns or bool(record and record.get("late")),
                corrections=int(record.get("corrections", 0)) if record else 0,
                counted=counted,
                items=items,
                claimed_pence=claimed.get(ods),
                share_pence=share,
                received_pence=received,
                status=(row.status or "") if row is not None else "not started",
                payment=payment,
            )
        )
    return sorted(lines, key=lambda line: line.ods)


def chosen(lines: list[PracticeLine], search: str, returned: str, late: bool, payment: str) -> list[PracticeLine]:
    """The lines an officer filtered for: words of the name or the ODS code or contact, returned or not,
    late only, a payment state."""
    words = search.lower().split()

    def keep(line: PracticeLine) -> bool:
        text = f"{line.ods} {line.name} {line.contact}".lower()
        return (
            all(w in text for w in words)
            and (returned != "yes" or line.returned)
            and (returned != "no" or not line.returned)
            and (not late or line.late)
            and (not payment or line.payment == payment)
        )

    return [line for line in lines if keep(line)]
