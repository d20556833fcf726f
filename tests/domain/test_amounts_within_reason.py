"""What no escalation takes in any state, whatever the kind or route (the workflow's update validator checks
every response with `check_within_reason`): an amount past £1,000,000,000.00 (`domain.money.MOST_PENCE`), reasons
of invisible characters alone, a declared party that is not a code."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import legacy_calendar
from domain.contacts import Role
from domain.escalation import ResponseRefused, check_within_reason
from domain.money import MOST_PENCE
from domain.responses import ResponseInput

LEGACY_CALENDAR = legacy_calendar()


def paying(pence: int | None) -> ResponseInput:
    return ResponseInput(
        action="confirm_payment", actor_email="ceo@lmc.example", actor_role=Role.OFFICER, amount_pence=pence
    )


@given(pence=st.one_of(st.none(), st.integers(0, MOST_PENCE)))
def test_any_amount_up_to_the_most_is_left_to_the_case(pence: int | None) -> None:
    check_within_reason(paying(pence), LEGACY_CALENDAR)


@given(pence=st.integers(MOST_PENCE + 1, 10**30))
def test_an_amount_past_the_most_is_refused_naming_the_amount_in_pounds(pence: int) -> None:
    with pytest.raises(ResponseRefused) as refused:
        check_within_reason(paying(pence), LEGACY_CALENDAR)
    said = str(refused.value)
    assert said.startswith("amount_pence: ") and "more than any claim could be (at most £1,000,000,000.00)" in said


@given(
    said=st.text(alphabet=st.sampled_from(" \t\n\u200b\u200c\u200d\u2060\ufeff\u00a0\u3000"), min_size=1, max_size=20)
)
def test_reasons_of_invisible_characters_alone_are_refused(said: str) -> None:
    refusing = ResponseInput(action="reject", actor_email="icb@nhs.example", actor_role=Role.PAYER, reasons=said)
    with pytest.raises(ResponseRefused, match="^reasons: has nothing in it"):
        check_within_reason(refusing, LEGACY_CALENDAR)


@pytest.mark.parametrize("party", ["!!", "E8-001", "QKS ICB", "ＱＫＳ"])
def test_a_declared_party_is_letters_and_digits(party: str) -> None:
    declaring = ResponseInput(
        action="declare_interest", actor_email="ceo@lmc.example", actor_role=Role.OFFICER, text=party
    )
    with pytest.raises(ResponseRefused, match="is not a party's code"):
        check_within_reason(declaring, LEGACY_CALENDAR)
    check_within_reason(declaring.model_copy(update={"text": "E87001"}), LEGACY_CALENDAR)


@pytest.mark.parametrize("on", [date(1, 1, 1), date(1999, 12, 31), date(9999, 12, 31)])
def test_a_date_outside_the_years_the_calendar_knows_is_refused(on: date) -> None:
    commissioning = ResponseInput(action="commission", actor_email="icb@nhs.example", actor_role=Role.PAYER, on_date=on)
    with pytest.raises(ResponseRefused, match="^on_date: .* is outside the years the engine knows"):
        check_within_reason(commissioning, LEGACY_CALENDAR)


@given(ahead=st.integers(-3000, 3000))
def test_a_date_more_than_two_years_ahead_is_refused_as_a_slip_of_the_year(ahead: int) -> None:
    """A payer's expected payment date nine years out (2035 for 2026) was recorded and waited for; a date within
    two years (work commissioned from an April 15 months away), or any past one (a payment received), is left to
    the case's own rules."""
    from datetime import timedelta

    from domain.escalation import MOST_DAYS_AHEAD

    today = date(2026, 11, 26)
    on = today + timedelta(days=ahead)
    accepting = ResponseInput(action="accept", actor_email="icb@nhs.example", actor_role=Role.PAYER, on_date=on)
    if ahead <= MOST_DAYS_AHEAD:
        check_within_reason(accepting, LEGACY_CALENDAR, today)
        return
    with pytest.raises(ResponseRefused) as refused:
        check_within_reason(accepting, LEGACY_CALENDAR, today)
    assert str(refused.value).startswith("on_date: ") and "is more than two years away; give a date by" in str(
        refused.value
    )
    assert "give a date by 26 November 2028 (is the year right?)" in str(refused.value)


@given(count=st.integers(0, 10**6))
def test_a_count_past_any_practices_list_is_refused_naming_its_box(count: int) -> None:
    from domain.responses import MOST_COUNT

    returning = ResponseInput(
        action="submit_return", actor_email="pm@nhs.example", actor_role=Role.PRACTICE, counts={"reviews": count}
    )
    if count <= MOST_COUNT:
        check_within_reason(returning, LEGACY_CALENDAR)
        return
    with pytest.raises(ResponseRefused, match=r"^count\.reviews: .* is more than any practice's list holds"):
        check_within_reason(returning, LEGACY_CALENDAR)
