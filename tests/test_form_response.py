"""Reading a posted link-page form (`domain/form_response.py`), as both the web and the workflow's update
validator do: any form at all is either a response or a refusal naming fields, never another error (which
the validator would turn into an unexplained refusal)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.contacts import Role
from domain.form_response import read_response
from domain.responses import FieldSpec, ResponseInput
from domain.validation import FieldsRefused

FIELDS = [
    FieldSpec("amount", "Amount", "money", True),
    FieldSpec("reasons", "Reasons", "text"),
    FieldSpec("on_date", "Date", "date"),
    FieldSpec("count.a", "Count", "count"),
    FieldSpec("groups", "Groups", "groups"),
]
NAMES = [
    "action",
    "amount",
    "reasons",
    "on_date",
    "count.a",
    "groups.0.patients",
    "groups.0.days_off",
    "groups.1.off_since",
]


@given(st.dictionaries(st.sampled_from(NAMES), st.text(max_size=30)))
def test_any_form_is_a_response_or_a_refusal_naming_fields(form: dict[str, str]) -> None:
    try:
        response = read_response(form, FIELDS, "someone@practice.example", Role.PRACTICE)
    except FieldsRefused as refused:
        assert refused.fields and all(isinstance(v, str) and v for v in refused.fields.values())
    else:
        assert isinstance(response, ResponseInput)


def test_fields_are_named_as_the_form_names_them() -> None:
    form = {"action": "accept_part", "amount": "twelve pounds", "on_date": "tomorrow", "count.a": "-1"}
    try:
        read_response(form, FIELDS, "someone@practice.example", Role.PAYER)
    except FieldsRefused as refused:
        assert set(refused.fields) == {"amount", "on_date", "count.a"}
    else:
        raise AssertionError("refused")
    read = read_response({"action": "accept_part", "amount": "1,500.50"}, FIELDS[:1], "a@b.example", Role.PAYER)
    assert read.amount_pence == 150050
