"""Refusals in the words a practice manager or an officer reads (`domain.validation.in_words`), whatever pydantic
would have said."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from domain.responses import ResponseInput
from domain.validation import FieldsRefused, validated

BASE = {"action": "submit_return", "actor_email": "pm@practice.example", "actor_role": "practice"}


def refused(data: dict[str, Any], model: type[BaseModel] = ResponseInput) -> dict[str, str]:
    with pytest.raises(FieldsRefused) as caught:
        validated(model, data)
    return caught.value.fields


def test_limits_missing_fields_and_dates_are_said_plainly() -> None:
    assert refused({**BASE, "counts": {"letters": 5_000_000}}) == {"counts.letters": "must be at most 1,000,000"}
    assert refused({**BASE, "counts": {"letters": -1}}) == {"counts.letters": "cannot be negative"}
    assert refused({**BASE, "on_date": "31/12/2026"}) == {
        "on_date": "must be a date written YYYY-MM-DD: for '31/12/2026' write 2026-12-31"
    }
    assert refused({**BASE, "on_date": "next Tuesday"}) == {"on_date": "must be a date (YYYY-MM-DD)"}
    # digits alone are seconds since 1970 to pydantic ("Datetimes provided to dates should have zero time")
    assert refused({**BASE, "on_date": "-1"}) == {"on_date": "must be a date (YYYY-MM-DD)"}
    assert refused({**BASE, "on_date": "20261231"}) == {
        "on_date": "must be a date written YYYY-MM-DD: for '20261231' write 2026-12-31"
    }
    for impossible in ("31/02/2026", "01/13/2026"):  # no such date to offer
        assert refused({**BASE, "on_date": impossible}) == {"on_date": "must be a date (YYYY-MM-DD)"}
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
            assert "should have" not in problem and "Datetimes" not in problem, problem


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
    code = data["practices"][0]["ods"]
    assert twice.value.fields == {
        "practices": f"names {code} more than once; name each practice once"
    }  # not 'input: …'
    from domain.identifiers import named_twice

    assert named_twice([f"A{n:05}" for n in range(20_000)]) is None  # a national incident's list, once each
    many = named_twice([f"A{n:05}" for n in range(8)] * 2)
    assert many == "names A00000, A00001, A00002, A00003, A00004 and 3 others more than once; name each practice once"
    with pytest.raises(FieldsRefused) as none:
        validated(PathologyRequest, {**data, "practices": []})
    assert none.value.fields["practices"] == "needs at least one entry"
    assert quoted("1\x00") == "'1�'" and quoted("a\u200bb") == "'a�b'"  # a hidden character is shown, not lost


def test_patterns_decimals_nulls_and_negative_counts_are_said_as_rules_a_person_follows() -> None:
    from domain.deregistration import DeregistrationRequest
    from domain.pathology import PathologyRequest
    from tests.domain.builders import example

    data = example("pathology_nwl_uacr.json")
    data["tariff"][0]["key"] = "Repeat Tests"
    data["tariff"][1]["rate_pence"] = "-5"
    data["tariff"].append(None)
    data["title"] = None
    assert refused(data, PathologyRequest) == {
        "title": "is required",
        "tariff.0.key": "may use only lower-case letters and underscores, e.g. repeat_tests",
        "tariff.1.rate_pence": "cannot be negative: give a whole number",
        "tariff.4": "is an empty entry (null); fill it in or remove it",
    }
    data = example("deregistration_nwl_pathfinder.json") | {"rate_year": "2025-26"}
    data["practices"][0]["weighting"] = "about one"
    data["practices"][1]["weighting"] = "1.23456"
    assert refused(data, DeregistrationRequest) == {
        "rate_year": "must be a year written like 2025/26",
        "practices.0.weighting": "must be a number, e.g. 1.25",
        "practices.1.weighting": "may have at most 4 decimal places",
    }


PYDANTIC_WORDS = ("Input should", "String should", "Decimal input", "should match pattern", "valid decimal", "Field ")


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))] or [path]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node[:2]) for leaf in _leaves(v, (*path, i))] or [path]
    return [path]


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replaced(node[path[0]], path[1:], value)
    return copy


JUNK = (
    st.none()
    | st.text(max_size=12)
    | st.integers()
    | st.floats(allow_nan=True)
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
    | st.sampled_from(["01/06/2025", "-5", "1e999", "2025-26", "Repeat Tests", "£12.50", ""])
)


@pytest.mark.parametrize("kind", ["unfunded_claim", "pathology_error", "deregistration", "interface_alert"])
@given(data=st.data())
def test_no_start_file_refusal_speaks_pydantic_for_any_kind(kind: str, data: st.DataObject) -> None:
    """Any one value of any kind's example start file replaced by junk is refused in words, field by field."""
    from kinds import KINDS
    from tests.domain.builders import example

    spec = next(s for s in KINDS if s.name == kind)
    start = example(spec.example.removeprefix("examples/"))
    path = data.draw(st.sampled_from(_leaves(start)), label="path")
    try:
        validated(spec.request_model, _replaced(start, path, data.draw(JUNK, label="junk")))
    except FieldsRefused as caught:
        for field, problem in caught.fields.items():
            assert not any(words in problem for words in PYDANTIC_WORDS), (field, problem)


def test_a_date_limit_is_said_as_people_write_dates() -> None:
    """'must be at least 1 January 2000', where the meeting pack's form said 'at least 2000-01-01'."""
    from datetime import date

    from pydantic import Field

    class Meeting(BaseModel):
        on: date = Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))

    assert refused({"on": "1999-05-01"}, Meeting) == {"on": "must be at least 1 January 2000"}
    assert refused({"on": "2100-01-01"}, Meeting) == {"on": "must be at most 31 December 2099"}


def test_a_choice_from_a_list_of_keys_is_said_without_them() -> None:
    """An interface alert's kind of work left unchosen had read "must be one of 'onward_referral', ...": the
    practice manager chooses from words, not keys."""
    from typing import Literal

    class Choice(BaseModel):
        kind: Literal["onward_referral", "fit_note"]
        size: Literal["small", "large"]

    assert refused({"kind": "", "size": "small"}, Choice) == {"kind": "is required"}
    assert refused({"kind": "bogus", "size": "small"}, Choice) == {
        "kind": "is not one of the choices offered: choose one from the list"
    }
    assert refused({"kind": "fit_note", "size": "huge"}, Choice) == {"size": "must be one of 'small' or 'large'"}
