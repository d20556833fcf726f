"""The unfunded-work report LMCs take to liaison meetings (like Kent's analysis of 143 letters):
per provider and category, items and money claimed, agreed and paid, exact to the penny."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.money import allocate_largest_remainder
from domain.unfunded_claim import ClaimRequest


@dataclass(frozen=True)
class ClaimFigures:
    claim: ClaimRequest
    agreed_pence: int  # 0 until agreed
    paid_pence: int  # 0 until paid


@dataclass
class ReportRow:
    provider: str
    category: str
    items: int = 0
    claimed_pence: int = 0
    agreed_pence: int = 0
    paid_pence: int = 0


def in_period(claim: ClaimRequest, start: date | None, end: date | None) -> bool:
    return (start is None or claim.period_end >= start) and (end is None or claim.period_start <= end)


def unfunded_work_report(claims: list[ClaimFigures]) -> list[ReportRow]:
    """Agreed and paid amounts are per claim; they are spread over its lines pro rata to what each
    line claimed (largest remainder), so every column still adds up exactly."""
    rows: dict[tuple[str, str], ReportRow] = {}
    for figures in claims:
        lines = figures.claim.lines
        weights = {i: line.amount_pence for i, line in enumerate(lines)}
        agreed = allocate_largest_remainder(figures.agreed_pence, weights) if sum(weights.values()) else {}
        paid = allocate_largest_remainder(figures.paid_pence, weights) if sum(weights.values()) else {}
        for i, line in enumerate(lines):
            key = (figures.claim.provider, line.category.value)
            row = rows.setdefault(key, ReportRow(provider=key[0], category=key[1]))
            row.items += line.count
            row.claimed_pence += line.amount_pence
            row.agreed_pence += agreed.get(i, 0)
            row.paid_pence += paid.get(i, 0)
    return sorted(rows.values(), key=lambda r: (r.provider, -r.items, r.category))
