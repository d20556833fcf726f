"""The report's breakdowns (issue #15): escalations, items and money claimed, agreed and paid, by category,
provider, ICB and month; and the Kent-style share of items by category (Kent LMC's 143 letters: 45% onward
referrals, 14% DNAs...). Exact: pence are summed, never averaged, and shares add up to 100%."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.money import allocate_largest_remainder
from domain.report import ReportLine

BREAKDOWNS = {"category": "Category", "provider": "Provider", "icb": "ICB", "month": "Month"}
"""What a report can be broken down by, as its column is headed."""


@dataclass(frozen=True)
class Placed:
    """One report line with the escalation it came from and the ICB it sits under (the payer when an ICB
    pays, the ICB copied when a trust does)."""

    escalation_id: str
    icb: str
    line: ReportLine


@dataclass
class Group:
    key: str
    label: str
    escalations: set[str] = field(default_factory=set)
    items: int = 0
    claimed_pence: int = 0
    agreed_pence: int = 0
    paid_pence: int = 0


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_label(day: date) -> str:
    return day.strftime("%B %Y")


def _key(placed: Placed, by: str) -> tuple[str, str]:
    line = placed.line
    if by == "provider":
        return line.provider, line.provider
    if by == "icb":
        return placed.icb, placed.icb
    if by == "month":  # the month the work's period began
        return month_key(line.period_start), month_label(line.period_start)
    return line.category, line.category.replace("_", " ")


def grouped(entries: list[Placed], by: str) -> list[Group]:
    """Entries summed by `by` (a key of BREAKDOWNS); months in order, the rest largest claim first."""
    groups: dict[str, Group] = {}
    for placed in entries:
        key, label = _key(placed, by)
        group = groups.setdefault(key, Group(key=key, label=label))
        group.escalations.add(placed.escalation_id)
        group.items += placed.line.items
        group.claimed_pence += placed.line.claimed_pence
        group.agreed_pence += placed.line.agreed_pence
        group.paid_pence += placed.line.paid_pence
    if by == "month":
        return sorted(groups.values(), key=lambda g: g.key)
    return sorted(groups.values(), key=lambda g: (-g.claimed_pence, g.key))


def item_shares(groups: list[Group]) -> dict[str, int]:
    """Each group's share of all items in whole per cent, adding up to exactly 100 (largest remainder)."""
    weights = {g.key: g.items for g in groups}
    if not sum(weights.values()):
        return {g.key: 0 for g in groups}
    return allocate_largest_remainder(100, weights)
