"""The bench's one output: a plain table, a row per figure, with its target, its ratio to the no-op baseline
measured in the same run where it has one, and whether it is within the target. Nothing here fails a run."""

from __future__ import annotations

import math
from dataclasses import dataclass


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def ratio(value: float, baseline: float) -> str:
    if math.isnan(value) or math.isnan(baseline) or baseline <= 0:
        return "-"
    return f"{value / baseline:.2f}x"


def megabytes(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


def kilobytes(size: int) -> str:
    return f"{size / 1024:.1f} KB"


@dataclass(frozen=True)
class Row:
    what: str
    now: str
    target: str
    ratio: str  # "-" where the row has no baseline
    ok: bool | None  # None: could not be measured

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else "OK" if self.ok else "over"


def render(rows: list[Row]) -> str:
    cells = [
        ("what", "now", "target", "ratio", "OK/over"),
        *((r.what, r.now, r.target, r.ratio, r.verdict) for r in rows),
    ]
    widths = [max(len(cell[i]) for cell in cells) for i in range(5)]
    return "\n".join("  ".join(t.ljust(w) for t, w in zip(cell, widths, strict=True)).rstrip() for cell in cells)
