"""Refusals in the words a practice manager or an officer reads (`domain.validation.in_words`), whatever pydantic
would have said."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.responses import ResponseInput
from domain.validation import FieldsRefused, validated

BASE = {"action": "submit_return", "actor_email": "pm@practice.example", "actor_role": "practice"}


def refused(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(FieldsRefused) as caught:
        validated(ResponseInput, data)
    return caught.value.fields


def test_limits_missing_fields_and_dates_are_said_plainly() -> None:
    assert refused({**BASE, "counts": {"letters": 5_000_000}}) == {"counts.letters": "must be at most 1,000,000"}
    assert refused({**BASE, "counts": {"letters": -1}}) == {"counts.letters": "must be at least 0"}
    assert refused({**BASE, "on_date": "31/12/2026"}) == {"on_date": "must be a date (YYYY-MM-DD)"}
    assert refused({"actor_email": "pm@practice.example", "actor_role": "practice"}) == {"action": "is required"}
    assert refused({**BASE, "action": ""}) == {"action": "is required"}


@given(
    st.dictionaries(
        st.sampled_from(["action", "amount_pence", "on_date", "counts", "reasons"]), st.integers() | st.text(max_size=5)
    )
)
def test_no_refusal_speaks_pydantic(junk: dict[str, Any]) -> None:
    try:
        validated(ResponseInput, {**BASE, **junk})
    except FieldsRefused as caught:
        for problem in caught.fields.values():
            assert "Input should" not in problem and "String should" not in problem and "Field required" not in problem


def test_text_past_its_limit_is_counted_in_characters_not_entries() -> None:
    """A limit on free text (checked after its own rules, so pydantic calls it a length, not a string's) reads
    as characters, as a person counts them; a list past its limit still reads as entries."""
    base = {"action": "reject", "actor_email": "pm@nhs.example", "actor_role": "practice"}
    with pytest.raises(FieldsRefused) as refused:
        validated(ResponseInput, {**base, "reasons": "x" * 4001})
    assert refused.value.fields["reasons"] == "must be at most 4,000 characters"
    with pytest.raises(FieldsRefused) as refused:
        validated(ResponseInput, {**base, "groups": [{"patients": 1, "still_off": True}] * 51})
    assert refused.value.fields["groups"] == "may have at most 50 entries"


def test_an_address_that_is_not_one_says_so_in_plain_words() -> None:
    base = {"action": "reject", "actor_role": "practice"}
    with pytest.raises(FieldsRefused) as refused:
        validated(ResponseInput, {**base, "actor_email": "not an email"})
    assert refused.value.fields["actor_email"] == "is not an email address: an email address must have an @-sign."


def test_a_whole_model_rule_is_put_beside_its_field_and_one_entry_is_said_as_one() -> None:
    from domain.pathology import PathologyRequest
    from domain.validation import quoted
    from tests.domain.builders import example

    data = example("pathology_nwl_uacr.json")
    data["practices"].append(dict(data["practices"][0]))  # the same practice twice
    with pytest.raises(FieldsRefused) as twice:
        validated(PathologyRequest, data)
    assert twice.value.fields == {"practices": "each ODS code must appear once"}  # not 'input: practices: ...'
    with pytest.raises(FieldsRefused) as none:
        validated(PathologyRequest, {**data, "practices": []})
    assert none.value.fields["practices"] == "needs at least one entry"
    assert quoted("1\x00") == "'1�'" and quoted("a\u200bb") == "'a�b'"  # a hidden character is shown, not lost
