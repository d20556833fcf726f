"""The report's breakdowns: money summed exactly per group, months in order, item shares adding up to 100%."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from domain.report import ReportLine
from domain.report_breakdown import Placed, grouped, item_shares


def placed(eid: str, icb: str, category: str, items: int, claimed: int, month: int, paid: int = 0) -> Placed:
    line = ReportLine(
        kind="unfunded_claim", provider="MTW", category=category, items=items, claimed_pence=claimed,
        paid_pence=paid, period_start=date(2026, month, 1), period_end=date(2026, month, 28),
    )  # fmt: skip
    return Placed(escalation_id=eid, icb=icb, line=line)


def test_groups_sum_each_column_and_count_escalations_once() -> None:
    entries = [
        placed("A", "Kent", "onward_referral", 64, 150_00, 7),
        placed("A", "Kent", "fit_note", 8, 96_00, 7, paid=96_00),
        placed("B", "Surrey", "onward_referral", 10, 25_00, 5),
    ]
    [referral, fit] = grouped(entries, "category")
    assert (referral.label, referral.items, referral.claimed_pence, len(referral.escalations)) == (
        "onward referral",
        74,
        175_00,
        2,
    )
    assert fit.paid_pence == 96_00
    assert [g.label for g in grouped(entries, "month")] == ["May 2026", "July 2026"]
    assert {g.key: len(g.escalations) for g in grouped(entries, "icb")} == {"Kent": 1, "Surrey": 1}


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12))
def test_item_shares_add_up_to_exactly_100(counts: list[int]) -> None:
    entries = [placed(f"E{i}", "Kent", f"c{i}", n, n * 100, 1) for i, n in enumerate(counts)]
    shares = item_shares(grouped(entries, "category"))
    assert sum(shares.values()) == (100 if sum(counts) else 0)
