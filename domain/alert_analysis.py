"""What alerts add up to: the officer's pattern view (alerts by provider, category and month, flagged at a
configurable threshold) and the Kent-style analysis for a period (share of items by category, provider and
practice, and the trend by month). Pure: the figures of each alert in, the tables out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from domain.formatting import counted
from domain.money import allocate_largest_remainder


@dataclass(frozen=True)
class AlertFigures:
    """One alert as the analysis counts it: no free text, nothing about patients."""

    reference: str
    ods: str
    provider: str
    category: str
    occurred_on: date
    items: int
    staff_minutes: int
    claim_ref: str | None = None


@dataclass
class Pattern:
    provider: str
    category: str
    month: str  # YYYY-MM
    alerts: list[AlertFigures] = field(default_factory=list)
    flagged: bool = False

    @property
    def count(self) -> int:
        return len(self.alerts)

    @property
    def items(self) -> int:
        return sum(a.items for a in self.alerts)

    @property
    def staff_minutes(self) -> int:
        return sum(a.staff_minutes for a in self.alerts)

    @property
    def unclaimed(self) -> list[AlertFigures]:
        return [a for a in self.alerts if a.claim_ref is None]


def patterns(alerts: Iterable[AlertFigures], min_alerts: int) -> list[Pattern]:
    """Alerts grouped by provider, category and month; a group of `min_alerts` or more is flagged."""
    grouped: dict[tuple[str, str, str], Pattern] = {}
    for alert in alerts:
        key = (alert.provider, alert.category, f"{alert.occurred_on:%Y-%m}")
        grouped.setdefault(key, Pattern(*key)).alerts.append(alert)
    found = [grouped[k] for k in sorted(grouped)]
    for pattern in found:
        pattern.flagged = pattern.count >= min_alerts
    return found


@dataclass(frozen=True)
class Share:
    key: str
    alerts: int
    items: int
    staff_minutes: int
    percent: int  # of all items; the shares of one table add up to exactly 100


def shares(alerts: list[AlertFigures], key: str) -> list[Share]:
    """Items by `key` (category, provider, ods or month), largest first (by month: in order), with whole
    percentages that add up to 100 (largest remainder, ties to the lower key)."""
    alerts_by: dict[str, list[AlertFigures]] = defaultdict(list)
    for alert in alerts:
        alerts_by[f"{alert.occurred_on:%Y-%m}" if key == "month" else str(getattr(alert, key))].append(alert)
    keys = sorted(alerts_by)
    items = {k: sum(a.items for a in alerts_by[k]) for k in keys}
    total = sum(items.values())
    percents = allocate_largest_remainder(100, items) if total else {k: 0 for k in keys}
    rows = [
        Share(k, len(alerts_by[k]), items[k], sum(a.staff_minutes for a in alerts_by[k]), percents[k]) for k in keys
    ]
    return rows if key == "month" else sorted(rows, key=lambda s: (-s.items, s.key))


def month_words(month: str) -> str:
    """'November 2026' from '2026-11'."""
    return f"{date.fromisoformat(month + '-01'):%B %Y}"


def hours(minutes: int) -> str:
    """Staff time as people say it: '3 hours 5 minutes'."""
    h, m = divmod(minutes, 60)
    parts = [counted(h, "hour")] if h else []
    if m or not h:
        parts.append(counted(m, "minute"))
    return " ".join(parts)
