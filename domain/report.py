"""The work report LMCs take to liaison meetings (like Kent's analysis of 143 letters): per
provider and category, items and money claimed, agreed and paid, exact to the penny.

Every kind says what it contributes through `EscalationCase.report_lines()`; the report itself
knows no kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

from domain.money import allocate_largest_remainder


class ReportLine(BaseModel):
    """One line an escalation contributes to the report (a claim line, or an incident as a whole)."""

    kind: str
    provider: str
    category: str
    items: int = Field(ge=0)
    claimed_pence: int = Field(ge=0)
    agreed_pence: int = Field(default=0, ge=0)
    paid_pence: int = Field(default=0, ge=0)
    period_start: date
    period_end: date


@dataclass
class ReportRow:
    provider: str
    category: str
    items: int = 0
    claimed_pence: int = 0
    agreed_pence: int = 0
    paid_pence: int = 0


def spread(
    kind: str,
    provider: str,
    period: tuple[date, date],
    lines: list[tuple[str, int, int]],
    agreed_pence: int,
    paid_pence: int,
) -> list[ReportLine]:
    """Report lines from (category, items, claimed) triples. Agreed and paid amounts are per claim;
    they are spread over its lines pro rata to what each line claimed (largest remainder), so every
    column still adds up exactly."""
    weights = {i: claimed for i, (_, _, claimed) in enumerate(lines)}
    agreed = allocate_largest_remainder(agreed_pence, weights) if sum(weights.values()) else {}
    paid = allocate_largest_remainder(paid_pence, weights) if sum(weights.values()) else {}
    return [
        ReportLine(
            kind=kind,
            provider=provider,
            category=category,
            items=items,
            claimed_pence=claimed,
            agreed_pence=agreed.get(i, 0),
            paid_pence=paid.get(i, 0),
            period_start=period[0],
            period_end=period[1],
        )
        for i, (category, items, claimed) in enumerate(lines)
    ]


def in_period(line: ReportLine, start: date | None, end: date | None) -> bool:
    return (start is None or line.period_end >= start) and (end is None or line.period_start <= end)


def work_report(lines: list[ReportLine]) -> list[ReportRow]:
    """Lines summed by provider and category, busiest first within a provider."""
    rows: dict[tuple[str, str], ReportRow] = {}
    for line in lines:
        key = (line.provider, line.category)
        row = rows.setdefault(key, ReportRow(provider=key[0], category=key[1]))
        row.items += line.items
        row.claimed_pence += line.claimed_pence
        row.agreed_pence += line.agreed_pence
        row.paid_pence += line.paid_pence
    return sorted(rows.values(), key=lambda r: (r.provider, -r.items, r.category))
