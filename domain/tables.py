"""A table a recipient needs to decide (a claim's lines, a payment schedule): headings, rows
and a total row, all already in words, so emails, link pages and CSV render it alike."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain import formatting


class Table(BaseModel):
    caption: str
    columns: list[str]
    rows: list[list[str]] = Field(default_factory=list)
    total: list[str] | None = None  # the closing row ("Total", "", ..., "£2,837.00")
    numeric: list[int] = Field(default_factory=list)  # indexes of columns aligned right


class ScheduleLine(BaseModel):
    """One practice's line in a payment schedule: who, its counts per tariff item, its amount."""

    ods: str
    name: str
    counts: list[int] = Field(default_factory=list)  # in the order of the schedule's items
    pence: int = Field(ge=0)


def schedule_table(caption: str, items: list[str], lines: list[ScheduleLine], total_pence: int) -> Table:
    """A per-practice payment schedule: practice, ODS code, a count per tariff item, amount; and the total."""
    totals = [sum(line.counts[i] for line in lines if i < len(line.counts)) for i in range(len(items))]
    return Table(
        caption=caption,
        columns=["Practice", "ODS code", *items, "Amount"],
        rows=[
            [line.name, line.ods, *(formatting.count(c) for c in line.counts), formatting.money(line.pence)]
            for line in lines
        ],
        total=[
            "Total",
            f"{len(lines)} practices",
            *(formatting.count(t) for t in totals),
            formatting.money(total_pence),
        ],
        numeric=list(range(2, 3 + len(items))),
    )
