"""Pure domain rules: working days, identifiers, money, the claim's own validation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.calendar import LEGACY_CALENDAR
from domain.identifiers import contains_nhs_number, is_valid_nhs_number
from domain.money import allocate_largest_remainder, format_pence, parse_pounds, read_whole_number
from domain.unfunded_claim import ClaimLine, ClaimRequest
from domain.validation import field_errors
from domain.working_days import LONDON, add_working_days, is_working_day, working_days_left
from settings import Settings
from tests.helpers import example_data


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "days", "due"),
    [
        (utc(2026, 11, 23, 9), 3, date(2026, 11, 26)),  # Monday -> Thursday
        (utc(2026, 11, 27, 16), 1, date(2026, 11, 30)),  # Friday -> Monday
        (utc(2026, 12, 23, 10), 3, date(2026, 12, 30)),  # Christmas, Boxing Day substitute
        (utc(2026, 4, 1, 10), 3, date(2026, 4, 8)),  # Good Friday and Easter Monday
        (utc(2026, 11, 22, 12), 20, date(2026, 12, 18)),  # FOI-style 20 working days
        (utc(2026, 3, 27, 23, 30), 1, date(2026, 3, 30)),  # 23:30 UTC Friday is still Friday in London
        (utc(2026, 6, 30, 23, 30), 1, date(2026, 7, 2)),  # 23:30 UTC is 00:30 BST Wednesday
    ],
)
def test_deadlines_fall_at_five_on_the_nth_working_day(sent: datetime, days: int, due: date) -> None:
    deadline = add_working_days(LEGACY_CALENDAR, sent, days)
    local = deadline.astimezone(LONDON)
    assert local.date() == due and (local.hour, local.minute) == (17, 0)
    assert working_days_left(LEGACY_CALENDAR, sent, deadline) == days


def test_bank_holidays_are_not_working_days() -> None:
    assert not is_working_day(LEGACY_CALENDAR, date(2026, 8, 31))  # summer bank holiday
    assert not is_working_day(LEGACY_CALENDAR, date(2026, 12, 28))  # Boxing Day substitute
    assert is_working_day(LEGACY_CALENDAR, date(2026, 11, 30))
    assert not is_working_day(LEGACY_CALENDAR, date(2026, 11, 29))
    with pytest.raises(ValueError):
        add_working_days(LEGACY_CALENDAR, datetime(2026, 1, 1), 1)  # naive datetimes are refused


def test_nhs_numbers_are_recognised_by_their_check_digit() -> None:
    assert is_valid_nhs_number("9434765919")
    assert not is_valid_nhs_number("9434765918")
    assert contains_nhs_number("seen 943-476-5919 in clinic")
    assert not contains_nhs_number("letter ref KLMC-1701, 64 items, tel 01622851197")


def test_claim_refuses_bad_input_naming_the_field() -> None:
    data = example_data()
    data["practices"] = ["G82001", "XYZ"]
    data["lines"][1]["count"] = -2
    data["lines"][2]["unit_rate_pence"] = 12.5
    data["lines"][3]["evidence_refs"] = ["NHS 943 476 5919"]
    with pytest.raises(ValidationError) as err:
        ClaimRequest.model_validate(data)
    errors = field_errors(err.value)
    assert "practices.1" in errors and "ODS code" in errors["practices.1"]
    assert "lines.1.count" in errors
    assert "lines.2.unit_rate_pence" in errors
    assert "NHS number" in errors["lines.3.evidence_refs.0"]


def test_claimed_total_is_the_exact_sum_of_lines() -> None:
    config = Settings(_env_file=None).escalation_config()  # type: ignore[call-arg]
    from domain.unfunded_claim import priced_claim

    claim = priced_claim(example_data(), config.tariff)
    assert claim.total_pence == 283700 == sum(line.count * line.unit_rate_pence for line in claim.lines)
    assert all(line.rate_is_example for line in claim.lines)
    line = ClaimLine(category="fit_note", count=3, unit_rate_pence=1234)
    assert line.amount_pence == 3702 and format_pence(line.amount_pence) == "£37.02"


def test_pounds_parse_exactly() -> None:
    assert parse_pounds("£1,234.50") == 123450
    assert parse_pounds("0.1") == 10
    for bad in ("12.345", "-1", "ten", "nan"):
        with pytest.raises(ValueError):
            parse_pounds(bad)


@pytest.mark.parametrize("odd", ["1e3", "1E-2", "\u0663", "\uff15", "+5", "1_000", "Infinity", "0x10", "5 0"])
def test_an_amount_is_digits_0_to_9_as_a_person_reads_it(odd: str) -> None:
    """Decimal reads an exponent, a sign or another script's digits; the reader of the email would not."""
    with pytest.raises(ValueError, match="is not an amount in pounds"):
        parse_pounds(odd)


@given(
    pot=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=60),
)
def test_allocation_sums_to_the_pot_and_stays_within_a_penny(pot: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights[0] = 1
    shares = allocate_largest_remainder(pot, dict(enumerate(weights)))
    assert sum(shares.values()) == pot
    total = sum(weights)
    for key, weight in enumerate(weights):
        assert abs(shares[key] * total - pot * weight) < total  # less than a penny from exact


def test_the_report_spreads_agreed_and_paid_money_exactly_over_lines() -> None:
    from datetime import UTC, datetime

    from domain.report import work_report
    from domain.unfunded_claim import ClaimCase, priced_claim

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    config = settings.escalation_config()
    claim = priced_claim(example_data(), config.tariff)
    officer = config.lmc.officers[0]
    case, _ = ClaimCase.open(
        "UWC-TEST",
        claim,
        config.lmc,
        officer,
        config.organisation(claim.payer_code),
        config.policy("unfunded_claim"),
        datetime(2026, 11, 25, tzinfo=UTC),
    )
    case.agreed_pence, case.paid_pence = 200_001, 150_000
    rows = work_report(case.report_lines())
    assert sum(r.items for r in rows) == 120 and sum(r.claimed_pence for r in rows) == 283_700
    assert sum(r.agreed_pence for r in rows) == 200_001 and sum(r.paid_pence for r in rows) == 150_000
    assert rows[0].category == "onward_referral" and rows[0].items == 64


def test_commas_in_an_amount_stand_only_between_thousands() -> None:
    assert parse_pounds("1,234,567.89") == 123456789
    for careless in ("£1,0,0", "1,00", "1,2345", "12,34.50", ",100"):
        with pytest.raises(ValueError, match="commas only between thousands"):
            parse_pounds(careless)


@pytest.mark.parametrize("odd", ["\u0661\u0662", "\uff12", "+5", "-5", "1_000", "1e3", "", "12.0", "9" * 13])
def test_a_whole_number_is_digits_0_to_9_within_reason(odd: str) -> None:
    """One rule for a count on a return form and for `--amount-pence`: `int` reads all of these."""
    with pytest.raises(ValueError):
        read_whole_number(odd)


def test_a_whole_number_reads_plain_digits() -> None:
    assert read_whole_number(" 1250000 ") == 1_250_000 and read_whole_number("0") == 0
