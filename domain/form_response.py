"""A link page's form, as posted, read into a `ResponseInput` by the field specs of the action it names.

Pure, so the same rules run wherever the form is read: on the web (`web/forms.py`, through the gate) and in the
escalation workflow's update validator, which reads a form sent to it as typed so a link page's POST needs one
round trip (issue #16) and the case's own field specs, with no read of the case first.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from domain.contacts import Role
from domain.money import parse_pounds, read_whole_number
from domain.responses import MOST_GROUPS, FieldSpec, ResponseInput, digest
from domain.validation import FieldsRefused, read_date, validated

GROUP_ROWS = MOST_GROUPS
"""Rows a groups field offers on the page (the first `GROUP_ROWS_SHOWN` open, the rest behind 'More groups'): as
many as a return may give, so a return sent another way (`service.acting.respond`) is shown whole for correcting."""
GROUP_ROWS_SHOWN = 8
EARLIER_GROUP_ROWS = 8
TWENTY_GROUP_ROWS = 20
"""The rows read before `GROUP_ROWS` grew to eight, then to twenty: a recorded form is read again on replay with
these (`workflows.escalation_workflow.MORE_GROUP_ROWS_PATCH`, `ALL_GROUP_ROWS_PATCH`)."""
AS_THE_FORM_NAMES = {"amount_pence": "amount"}  # the response's field names as the forms call them


class FormResponse(BaseModel):
    """A form as posted from a link page (text fields, each once) and who the signed link says sent it."""

    form: dict[str, str]
    actor_email: str
    actor_role: Role


FIELD_CHARS = 8_000
"""Twice the longest text any form takes (4,000 characters): a field longer than this is refused as posted."""
FORM_CHARS = 40_000
FORM_FIELDS = 4 * GROUP_ROWS + 100  # every box of every group row, and room for the rest
"""A posted form is sent to the workflow as typed, and Temporal carries it back in the update's answer, each
control character written as six; a form past these bounds would make an answer too large for Temporal to take
(2 MB) and hold the escalation's every task until someone stepped in. Far beyond anything our pages send."""


def _too_long(name: str, value: str) -> bool:
    return len(value) > FIELD_CHARS or len(name) > 200


def oversized(form: dict[str, str]) -> dict[str, str]:
    """The fields of a posted form too large for any of our pages to have sent, each with why (empty if none):
    checked before the form goes to the workflow."""
    problems = {
        name[:60] or "(a field without a name)": f"is far longer than this form takes ({FIELD_CHARS:,} characters)"
        for name, value in form.items()
        if _too_long(name, value)
    }
    if not problems and (len(form) > FORM_FIELDS or sum(len(v) for v in form.values()) > FORM_CHARS):
        problems["form"] = f"is far larger than any of these forms ({FORM_FIELDS} fields, {FORM_CHARS:,} characters)"
    return problems


def shown_again(form: dict[str, str]) -> dict[str, str]:
    """What of an oversized form its page shows again as typed: the fields within the bounds, or none when the
    form as a whole is too large."""
    if "form" in oversized(form):
        return {}
    return {name: value for name, value in form.items() if not _too_long(name, value)}


def form_digest(form: dict[str, str], leave_out: str = "submission") -> str:
    """What a form said, as a short digest (its one-time submission id left out): the same form sent again has
    the same digest, one edited after the Back button has another."""
    return digest(json.dumps(sorted((k, v) for k, v in form.items() if k != leave_out), ensure_ascii=False))


COUNT_DIGITS = 9  # far beyond any count; a longer string of digits is refused before it is read as a number


def _count(raw: str, least: int = 0) -> int:
    return read_whole_number(raw, COUNT_DIGITS, least)


def _groups(form: dict[str, str], name: str, errors: dict[str, str], rows: int) -> list[dict[str, Any]]:
    """The rows of a groups field that have anything in them; each box a row's reader refuses is named on its own
    (`groups.1.off_since`), so the page says which box of which group, and the row's other boxes still are read."""
    groups = []
    for row in range(rows):
        base = f"{name}.{row}"
        boxes = {box: form.get(f"{base}.{box}", "").strip() for box in GROUP_BOXES[:3]}
        still_off = form.get(f"{base}.still_off", "") in ("on", "true", "1")
        if not (any(boxes.values()) or still_off):
            continue
        group: dict[str, Any] = {"still_off": still_off, "days_off": None, "off_since": None}
        for box, raw in boxes.items():
            if not raw:
                if box == "patients":
                    errors[f"{base}.patients"] = "required"
                continue
            try:
                group[box] = read_date(raw) if box == "off_since" else _count(raw, least=1)
            except ValueError as err:
                errors[f"{base}.{box}"] = str(err)
        groups.append(group)
    return groups


def read_new_response(
    form: dict[str, str],
    fields: list[FieldSpec],
    actor_email: str,
    role: Role,
    group_rows: int = GROUP_ROWS,
    only_offered: bool = False,
) -> ResponseInput:
    """`read_response`, refusing also a groups field's boxes filled in beyond the rows read (`group_rows`: those the
    page offers, or fewer in a run that began before they grew), by name, rather than dropping them unread; and,
    `only_offered` (a form as its action's page sends it, nothing else beside it), any other field filled in. For a
    form as it arrives (the update's validator, the web's own read); a handler replaying a recorded form reads it by
    `read_response`, as it was read when it was recorded."""
    unoffered = {
        field.name: problem
        for field in fields
        if field.kind == "groups" and (problem := _unoffered_rows(form, field.name, group_rows)) is not None
    }
    if only_offered:
        unoffered |= _not_on_the_form(form, fields)
    try:
        response = read_response(form, fields, actor_email, role, group_rows)
    except FieldsRefused as refused:
        raise FieldsRefused({**refused.fields, **unoffered}) from None
    if unoffered:
        raise FieldsRefused(unoffered)
    return response


GROUP_BOXES = ("patients", "days_off", "off_since", "still_off")
"""The boxes of a groups field's row (`groups.0.patients`)."""
NOT_ON_THE_FORM = "this form has no such field, so it cannot be recorded; leave it out and send the rest again"


def _not_on_the_form(form: dict[str, str], fields: list[FieldSpec]) -> dict[str, str]:
    """The fields filled in that the action's form does not have (`notes`, `groups.0.colour`), each named."""
    named = {"action", *(field.name for field in fields if field.kind != "groups")}
    groups = {field.name for field in fields if field.kind == "groups"}

    def offered(key: str) -> bool:
        parts = key.split(".")
        return key in named or (len(parts) == 3 and parts[0] in groups and parts[2] in GROUP_BOXES)

    return {key[:60]: NOT_ON_THE_FORM for key, value in form.items() if value.strip() and not offered(key)}


def _unoffered_rows(form: dict[str, str], name: str, group_rows: int) -> str | None:
    """What is wrong with the boxes filled in outside the rows read, in words; None if there are none."""
    rows = {key.split(".")[1] for key, value in form.items() if _beyond_rows(key, name, group_rows) and value.strip()}
    if not rows:
        return None
    if all(row.isdigit() for row in rows):
        return f"at most {group_rows} groups can be sent at once, and more were"
    return f"a group row this form does not have was filled in; use the rows it offers (up to {group_rows} groups)"


def _beyond_rows(key: str, name: str, group_rows: int) -> bool:
    """A box of the groups field `name` outside the rows read (`groups.50.patients`, `groups.x.y`)."""
    parts = key.split(".")
    return len(parts) == 3 and parts[0] == name and parts[1] not in _ROWS[:group_rows]


_ROWS = tuple(str(row) for row in range(GROUP_ROWS))


def read_response(
    form: dict[str, str], fields: list[FieldSpec], actor_email: str, role: Role, group_rows: int = GROUP_ROWS
) -> ResponseInput:
    """The submitted fields as a response; `FieldsRefused` names each form field at fault."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"action": form.get("action", ""), "actor_email": actor_email, "actor_role": role}
    for field in fields:
        if field.kind == "groups":
            groups = _groups(form, field.name, errors, group_rows)
            if groups:
                values["groups"] = groups
            elif field.required:  # (a row with anything in it is a group, refused or not)
                errors[field.name] = "give at least one group"
            continue
        raw = form.get(field.name, "").strip()
        if not raw:
            if field.required:
                errors[field.name] = "required"
            continue
        try:
            if field.kind == "money":
                values["amount_pence"] = parse_pounds(raw)
            elif field.kind == "date":
                values["on_date"] = read_date(raw)
            elif field.kind == "count":
                values.setdefault("counts", {})[field.name.removeprefix("count.")] = _count(raw)
            else:
                values[field.name] = raw
        except ValueError as err:
            errors[field.name] = str(err)
    if errors:
        raise FieldsRefused(errors)
    try:
        return validated(ResponseInput, values, renamed=AS_THE_FORM_NAMES)
    except FieldsRefused as refused:  # a count's limit: beside its own box ('count.x'), as the form names it
        raise FieldsRefused({_as_the_form_names(name): problem for name, problem in refused.fields.items()}) from None


def _as_the_form_names(name: str) -> str:
    return "count." + name.removeprefix("counts.") if name.startswith("counts.") else name
