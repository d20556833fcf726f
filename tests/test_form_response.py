"""Reading a posted link-page form (`domain/form_response.py`), as both the web and the workflow's update
validator do: any form at all is either a response or a refusal naming fields, never another error (which
the validator would turn into an unexplained refusal)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.contacts import Role
from domain.form_response import FIELD_CHARS, FORM_CHARS, FormResponse, oversized, read_response
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


def test_a_huge_form_is_refused_in_a_few_hundred_characters_a_field() -> None:
    """Four 200 KB fields once came back quoted whole: a 2.4 MB refusal, past Temporal's payload limit, which
    failed the practice's workflow task again and again. A refusal now quotes at most the start of each."""
    fields = [FieldSpec(f"count.{n}", "Count", "count", True) for n in range(4)]
    form = {"action": "submit_return", **{f"count.{n}": "x" * 200_000 for n in range(4)}}
    try:
        read_response(form, fields, "pm@practice.example", Role.PRACTICE)
    except FieldsRefused as refused:
        assert set(refused.fields) == {f"count.{n}" for n in range(4)}
        assert all(len(problem) <= 200 and "is not a whole number" in problem for problem in refused.fields.values())
        assert len(str(refused)) < 1_000
    else:
        raise AssertionError("refused")


def test_counts_in_superscript_or_of_absurd_length_are_refused_in_plain_words() -> None:
    count = [FieldSpec("count.a", "Count", "count", True)]
    for raw, words in (
        ("³", "is not a whole number"),
        ("\u0661\u0662", "digits 0-9"),
        ("9" * 200_000, "far more than it could be"),
    ):
        try:
            read_response({"action": "submit_return", "count.a": raw}, count, "pm@practice.example", Role.PRACTICE)
        except FieldsRefused as refused:
            assert words in refused.fields["count.a"] and "int()" not in refused.fields["count.a"]
        else:
            raise AssertionError(raw)


@settings(max_examples=60)
@given(
    form=st.dictionaries(
        st.text(max_size=30),
        st.one_of(st.text(max_size=50), st.builds(lambda c, n: c * n, st.characters(), st.integers(0, 12_000))),
        max_size=12,
    )
)
def test_a_form_within_the_bounds_stays_far_inside_temporals_payload_limit_and_one_past_them_is_named(
    form: dict[str, str],
) -> None:
    """The update a link page's form becomes (and Temporal's answer, which carries it back) stays under Temporal's
    512 KB warning whatever the characters, however many are control characters written six bytes each; a form
    past the bounds is refused naming each field at fault, before it is sent."""
    problems = oversized(form)
    if not problems:
        sent = FormResponse(form=form, actor_email="pm@nhs.example", actor_role=Role.PRACTICE)
        assert len(json.dumps(sent.model_dump(mode="json"))) < 512 * 1024
    for name, value in form.items():
        if len(value) > FIELD_CHARS:
            assert problems.get(name[:60] or "(a field without a name)"), problems
    if sum(len(v) for v in form.values()) > FORM_CHARS:
        assert problems


def test_each_box_of_a_group_is_refused_by_name_in_words_and_groups_given_are_not_called_missing() -> None:
    """A practice's return with a negative count in group 1 and a day-first date in group 4: each box is named and
    said in words (never Python's own), the row's other boxes are still read, and the field is not said to be
    missing a group when groups were given."""
    required = [FieldSpec("groups", "Groups", "groups", True)]
    form = {
        "groups.0.patients": "5",
        "groups.0.days_off": "-3",
        "groups.3.patients": "",
        "groups.3.still_off": "on",
        "groups.3.off_since": "31/03/2026",
        "groups.5.patients": "2",
        "groups.5.still_off": "on",
        "groups.5.off_since": "2026-02-30\x00",
    }
    try:
        read_response(form, required, "someone@practice.example", Role.PRACTICE)
    except FieldsRefused as refused:
        assert refused.fields == {
            "groups.0.days_off": "'-3' is not a whole number of 1 or more (digits 0-9)",
            "groups.3.patients": "required",
            "groups.3.off_since": "write the date as YYYY-MM-DD: for '31/03/2026' write 2026-03-31",
            "groups.5.off_since": "'2026-02-30�' is not a date (YYYY-MM-DD)",
        }
    else:
        raise AssertionError("refused")
    form = {"action": "submit_return", "groups.1.patients": "4", "groups.1.still_off": "on"}
    read = read_response({**form, "groups.1.off_since": "2026-02-27"}, required, "pm@practice.example", Role.PRACTICE)
    assert read.groups is not None and str(read.groups[0].off_since) == "2026-02-27"


def test_a_link_forms_date_takes_what_it_always_took_so_recorded_answers_read_the_same_on_replay() -> None:
    """An update's handler reads its form again when a run is replayed: a date these forms accepted before
    (`date.fromisoformat`'s forms, '20260331' among them) must still read the same, and only refusals are worded."""
    from domain.validation import read_date

    assert read_date(" 2026-03-31 ") == read_date("20260331") == read_date("2026-W14-2")
    for typed, words in (("٢٠٢٦-٠٣-٣١", "is not a date (YYYY-MM-DD)"), ("2026-02-30", "is not a date on the calendar")):
        try:
            read_date(typed)
        except ValueError as refused:
            assert words in str(refused)
        else:
            raise AssertionError(typed)


def test_a_group_with_neither_days_off_nor_still_off_is_asked_for_one_and_with_both_for_one_only() -> None:
    required = [FieldSpec("groups", "Groups", "groups", True)]
    for extra, words in (({}, "or tick 'still off'"), ({"groups.0.days_off": "3"}, "not both")):
        form = {"action": "submit_return", "groups.0.patients": "5", **extra}
        if "days_off" in str(extra):
            form |= {"groups.0.still_off": "on", "groups.0.off_since": "2026-01-05"}
        try:
            read_response(form, required, "pm@practice.example", Role.PRACTICE)
        except FieldsRefused as refused:
            assert words in refused.fields["groups.0"], refused.fields
            assert ("not both" in refused.fields["groups.0"]) is bool(extra)
        else:
            raise AssertionError(form)


def test_groups_beyond_the_rows_the_page_offers_are_refused_by_name_with_the_rest_never_dropped_unread() -> None:
    """A crafted form (or a page edited in the browser) with a ninth group: refused for the field, beside any other
    box at fault, where it was read as eight groups and the ninth silently left out. A recorded form reads as it did
    (`read_response`, the handler's on replay)."""
    from domain.form_response import GROUP_ROWS, read_new_response

    required = [FieldSpec("groups", "Groups", "groups", True)]
    form = {"action": "submit_return", "groups.0.patients": "5", "groups.0.days_off": "3"}
    beyond = {**form, f"groups.{GROUP_ROWS}.patients": "7", f"groups.{GROUP_ROWS}.days_off": "2"}
    for extra in ({}, {"groups.0.days_off": "-3"}):
        try:
            read_new_response({**beyond, **extra}, required, "pm@practice.example", Role.PRACTICE)
        except FieldsRefused as refused:
            assert refused.fields["groups"] == f"at most {GROUP_ROWS} groups can be sent at once, and more were"
            assert ("groups.0.days_off" in refused.fields) == bool(extra)
        else:
            raise AssertionError("refused")
    blank_beyond = {**form, f"groups.{GROUP_ROWS}.patients": " "}
    assert read_new_response(blank_beyond, required, "pm@practice.example", Role.PRACTICE).groups is not None
    recorded = read_response(beyond, required, "pm@practice.example", Role.PRACTICE)
    assert recorded.groups is not None and len(recorded.groups) == 1


def test_a_count_past_its_limit_is_refused_beside_its_own_box() -> None:
    """The limit is the model's ('counts.x'); the page's box is 'count.x', where the refusal is shown."""
    form = {"action": "submit_return", "count.a": "10000000"}
    try:
        read_response(form, FIELDS[3:4], "pm@practice.example", Role.PRACTICE)
    except FieldsRefused as refused:
        assert refused.fields == {"count.a": "must be at most 1,000,000"}, refused.fields
    else:
        raise AssertionError("refused")


def test_a_recorded_form_is_read_over_the_rows_it_was_read_over_then() -> None:
    """As many rows now as a return may give; a form recorded when the page offered eight, or twenty, is read on
    replay over those (`EARLIER_GROUP_ROWS`, `TWENTY_GROUP_ROWS`, chosen by the workflow's patches), as it was."""
    from domain.form_response import EARLIER_GROUP_ROWS, GROUP_ROWS, TWENTY_GROUP_ROWS
    from domain.responses import MOST_GROUPS

    required = [FieldSpec("groups", "Groups", "groups", True)]
    form = {"action": "submit_return"} | {
        f"groups.{n}.{box}": "1" for n in range(30) for box in ("patients", "days_off")
    }
    now = read_response(form, required, "pm@practice.example", Role.PRACTICE)
    twenty = read_response(form, required, "pm@practice.example", Role.PRACTICE, TWENTY_GROUP_ROWS)
    eight = read_response(form, required, "pm@practice.example", Role.PRACTICE, EARLIER_GROUP_ROWS)
    assert GROUP_ROWS == MOST_GROUPS and now.groups is not None and twenty.groups and eight.groups
    assert (len(now.groups), len(twenty.groups), len(eight.groups)) == (30, 20, 8)


def test_a_form_with_every_group_row_filled_is_not_too_large() -> None:
    """Every box of every row the page offers, and the form's own fields, are within the bounds a form is held to."""
    from domain.form_response import GROUP_ROWS, oversized

    form = {"action": "submit_return", "submission": "x" * 32} | {
        f"groups.{n}.{box}": value
        for n in range(GROUP_ROWS)
        for box, value in (("patients", "12"), ("days_off", "30"), ("still_off", "on"), ("off_since", "2025-02-01"))
    }
    assert oversized(form) == {}


def test_a_run_that_read_its_forms_over_fewer_rows_refuses_more_rather_than_leaving_them_unread() -> None:
    """A run that read a form before the rows grew reads every later form over the rows it read then (its patch
    keeps its first answer); its validator is given those rows, so a 21st group is refused by name, not dropped."""
    from domain.form_response import TWENTY_GROUP_ROWS, read_new_response

    required = [FieldSpec("groups", "Groups", "groups", True)]
    form = {"action": "submit_return"} | {
        f"groups.{n}.{box}": "1" for n in range(25) for box in ("patients", "days_off")
    }
    assert len(read_new_response(form, required, "pm@practice.example", Role.PRACTICE).groups or []) == 25
    try:
        read_new_response(form, required, "pm@practice.example", Role.PRACTICE, TWENTY_GROUP_ROWS)
    except FieldsRefused as refused:
        assert refused.fields == {"groups": "at most 20 groups can be sent at once, and more were"}
    else:
        raise AssertionError("refused")


def test_a_crafted_group_row_that_is_no_row_at_all_is_refused_as_such() -> None:
    """'groups.-1.patients' or 'groups.1e3.patients' is not a group too many: said so, not 'more were' sent."""
    from domain.form_response import read_new_response

    required = [FieldSpec("groups", "Groups", "groups", True)]
    form = {"action": "submit_return", "groups.0.patients": "5", "groups.0.days_off": "3"}
    for crafted in ("groups.-1.patients", "groups.1e3.patients", "groups.x.patients"):
        try:
            read_new_response({**form, crafted: "7"}, required, "pm@practice.example", Role.PRACTICE)
        except FieldsRefused as refused:
            assert refused.fields == {
                "groups": "a group row this form does not have was filled in; use the rows it offers (up to 50 groups)"
            }
        else:
            raise AssertionError(crafted)
