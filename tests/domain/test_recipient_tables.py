"""What a payer needs to decide, as tables: the ICB sees every claim line, the trust the per-practice
schedule, each adding up to the amount claimed."""

from __future__ import annotations

from decimal import Decimal

from domain.incident import StartChild
from domain.tables import Table
from mail.compose import table_csv
from tests.domain.builders import london, of_type, open_claim, open_compensation
from tests.domain.test_pathology_machine import CLOSED_AT, LATE, ON_TIME, RETURNS_DUE, opened


def csv_amounts(table: Table) -> list[Decimal]:
    lines = table_csv(table).splitlines()[1:]
    return [Decimal(line.rsplit(",", 1)[1]) for line in lines]


def test_the_icb_sees_every_claim_line_with_its_duty_rate_amount_and_evidence() -> None:
    case, _ = open_claim(london(2026, 12, 1))
    [table] = case.tables()
    assert len(table.rows) == len(case.claim.lines) == 6
    first = dict(zip(table.columns, table.rows[0], strict=True))
    assert first["Work"].startswith("Onward referrals sent back to the practice")
    assert first["NHS Standard Contract duty"].startswith("SC8.4 (2017/19)")
    assert (first["Count"], first["Unit rate"], first["Amount"]) == ("64", "£25.00 (example rate)", "£1,600.00")
    assert first["Evidence"] == "KLMC-1701, KLMC-1702, KLMC-1709"
    assert table.total is not None and table.total[-2] == "£2,837.00"


def test_a_line_of_other_work_names_no_contract_duty() -> None:
    from domain.unfunded_claim import Category, duty_words

    assert duty_words(Category.OTHER) == "no contract duty named: see the work described"
    from domain.interface_alert import category_text

    assert category_text(Category.OTHER) == "Other work moved onto the practice"
    assert duty_words(Category.TEST_RESULTS).endswith("(2017/19)")
    assert duty_words(Category.FIT_NOTE).startswith("SC11.11 (2017/19): ")


def test_the_trusts_schedule_lists_each_practice_and_its_csv_adds_up_to_the_claim() -> None:
    incident = opened()
    incident.on_timer(RETURNS_DUE)
    [start] = of_type(incident.on_returns_loaded([*ON_TIME, LATE], CLOSED_AT), StartChild)
    assert [(line.ods, line.counts, line.pence) for line in start.schedule] == [
        ("E87700", [10, 4, 2, 1], 26_600),
        ("E87701", [5, 0, 0, 2], 12_000),
    ]  # the late return (E87702) is not claimed
    assert start.schedule_items[1] == "Recall appointment at £25.00 (example rate)"
    claim, _ = open_compensation(london(2027, 1, 19), start.claimed_pence or 0)
    claim.schedule_items, claim.schedule = start.schedule_items, start.schedule
    [table] = claim.tables()
    assert table.rows[0][:2] == ["Paddington Medical Centre", "E87700"]
    *lines, total = csv_amounts(table)
    assert sum(lines) == total == Decimal("386.00") == Decimal(claim.claimed_pence) / 100


def test_a_claim_recorded_with_thousands_of_lines_shows_the_first_hundred_and_counts_the_rest() -> None:
    """Before the gate held claims to 100 lines, one of thousands started: formatting each in one workflow task
    outran the sandbox's 2 s deadlock check on a busy worker, and the claim never sent its request."""
    case, _ = open_claim(london(2026, 12, 1))
    case.claim.lines = case.claim.lines * 1_400  # 8,400 lines
    [table] = case.tables()
    assert len(table.rows) == 101 and table.rows[-1][:2] == ["…", "8,300 more lines, in the total below"]
    assert table.total is not None and table.total[2] == "168,000"  # every line counted in the total
