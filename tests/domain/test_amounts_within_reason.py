"""An amount a person types is refused past £1,000,000,000.00 (`domain.money.MOST_PENCE`), whatever the kind or
route: the workflow's update validator checks every response with `check_within_reason`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contacts import Role
from domain.escalation import ResponseRefused, check_within_reason
from domain.money import MOST_PENCE
from domain.responses import ResponseInput


def paying(pence: int | None) -> ResponseInput:
    return ResponseInput(
        action="confirm_payment", actor_email="ceo@lmc.example", actor_role=Role.OFFICER, amount_pence=pence
    )


@given(pence=st.one_of(st.none(), st.integers(0, MOST_PENCE)))
def test_any_amount_up_to_the_most_is_left_to_the_case(pence: int | None) -> None:
    check_within_reason(paying(pence))


@given(pence=st.integers(MOST_PENCE + 1, 10**30))
def test_an_amount_past_the_most_is_refused_naming_the_amount_in_pounds(pence: int) -> None:
    with pytest.raises(ResponseRefused) as refused:
        check_within_reason(paying(pence))
    said = str(refused.value)
    assert said.startswith("amount_pence: ") and "more than any claim could be (at most £1,000,000,000.00)" in said
