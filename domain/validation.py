"""Field-named error messages from pydantic validation, for people."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, ValidationInfo

M = TypeVar("M", bound=BaseModel)


def field_errors(err: ValidationError) -> dict[str, str]:
    """{'lines.2.count': 'must be at least 1', ...}"""
    errors: dict[str, str] = {}
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "input"
        kind = "string_too_long" if item["type"] == "too_long" and isinstance(item.get("input"), str) else item["type"]
        problem = in_words(kind, item.get("ctx") or {}, item["msg"], item.get("input"))
        if problem == EMPTY and item["loc"] and isinstance(item["loc"][-1], int):
            problem = "is an empty entry (null); fill it in or remove it"
        named = _NAMED.match(problem) if kind == "value_error" else None
        if named is not None:  # a rule over a whole model that names its field ('practices: each ...'): beside it
            where = "" if field == "input" else f"{field}."
            field, problem = where + named["field"], named["problem"]
        errors.setdefault(field, problem)
    return errors


_NAMED = re.compile(r"(?P<field>[a-z_][a-z0-9_.]*): (?P<problem>.+)", re.DOTALL)


def _shown(value: Any) -> str:
    """A limit as a refusal says it: '1,000,000'; a date as people write it ('1 January 2000'), never ISO."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):  # pydantic gives a date limit as ISO text
        try:
            value = date.fromisoformat(value)
        except ValueError:  # not a date after all: said as it is
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return f"{value:%-d %B %Y}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


NOT_A_FIELD = "is not a field this takes (check its spelling)"
"""A key no field of the model has: a misspelt field, refused rather than dropped with its value."""

_IN_WORDS: dict[str, str] = {
    "missing": "is required",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "needs at least {min_length} entries",  # 'at least one entry' where it is 1: `in_words`
    "too_long": "may have at most {max_length} entries",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be yes or no",
    "bool_parsing": "must be yes or no",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "must be a date (YYYY-MM-DD)",  # a number read as seconds: '-1', '20261231'
    "string_type": "must be text",
    "dict_type": "must be a set of named values",
    "list_type": "must be a list",
    "decimal_type": "must be a number, e.g. 1.25",
    "decimal_parsing": "must be a number, e.g. 1.25",
    "float_type": "must be a number, e.g. 1.25",
    "float_parsing": "must be a number, e.g. 1.25",
    "finite_number": "must be a number, e.g. 1.25",
    "decimal_max_places": "may have at most {decimal_places} decimal places",
    "decimal_max_digits": "may have at most {max_digits} digits",
    "model_type": "must be a set of named values",
    "model_attributes_type": "must be a set of named values",
    "string_pattern_mismatch": "is not written as this field takes it",
    "extra_forbidden": NOT_A_FIELD,
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}
"""Pydantic's common refusals in the words a practice manager or an officer reads, never its own ("Input should
be less than or equal to 1000000"). A rule's own message (a `ValueError` in a validator) is already in words."""


_PATTERNS: dict[str, str] = {
    r"^[a-z_]+$": "may use only lower-case letters and underscores, e.g. repeat_tests",
    r"^\d{4}/\d{2}$": "must be a year written like 2025/26",
    r"^[A-Za-z0-9-]{1,64}$": "may use only letters, digits and hyphens (up to 64)",
    r"^[A-Za-z0-9]+$": "may use only letters and digits",
    r"^[A-Za-z0-9]*$": "may use only letters and digits",
    r"^(icb|trust)$": "must be icb or trust",
    r"^[A-Za-z0-9_.-]{1,200}$": "may use only letters, digits, full stops, hyphens and underscores",
}
"""The patterns our models declare, as the rule a person follows; one not here reads 'is not written as this
field takes it', never the pattern itself."""

_DAY_FIRST = re.compile(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*")
_DATE_KINDS = ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact")
_INT_KINDS = ("int_type", "int_parsing")
_NEGATIVE = re.compile(r"\s*-\s*\d+\s*")


def _day_first(typed: str) -> date | None:
    """'01/06/2025' as the date a person in England means by it (1 June 2025), if it is one."""
    found = _DAY_FIRST.fullmatch(typed)
    if found is None:
        return None
    day, month, year = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:  # 31/02/2026, or 01/13/2026 written month first: no date to offer
        return None


_RUN_TOGETHER = re.compile(r"\s*\d{8}\s*", re.ASCII)


def _run_together(typed: str) -> date | None:
    """'20261231' as the date it spells (pydantic would read the digits as seconds since 1970), if it is one."""
    if _RUN_TOGETHER.fullmatch(typed) is None:
        return None
    try:
        return date.fromisoformat(typed.strip())
    except ValueError:
        return None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def read_date(typed: str) -> date:
    """A date as a person types it in a link form's box: YYYY-MM-DD (and whatever else Python's `fromisoformat`
    reads, '20260331' among them, as these forms always took: an update's handler reads its form again on replay).
    Refused in words, with the date to write for a day-first one ('31/03/2026')."""
    text = typed.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if _ISO_DATE.fullmatch(text):
        raise ValueError(f"{quoted(typed)} is not a date on the calendar")
    if (meant := _day_first(text)) is not None:
        raise ValueError(f"write the date as YYYY-MM-DD: for {quoted(typed)} write {meant.isoformat()}")
    raise ValueError(f"{quoted(typed)} is not a date (YYYY-MM-DD)")


_NOT_AN_EMAIL = "value is not a valid email address:"
EMPTY = "is required"
"""A null (a JSON file's, or a form's box left blank) where a value belongs: said as a missing field is."""


def in_words(kind: str, ctx: dict[str, Any], message: str, typed: Any = None) -> str:
    """What a refusal of `kind` says, from pydantic's context (its limits) and what was `typed` where that helps
    ('01/06/2025': 'write it 2025-06-01'); its own `message` where no words are kept for it."""
    if typed is None and kind.endswith("_type"):  # a JSON null where a value belongs
        return EMPTY
    if kind in _DATE_KINDS and isinstance(typed, str) and (meant := _day_first(typed) or _run_together(typed)):
        return f"must be a date written YYYY-MM-DD: for {quoted(typed)} write {meant.isoformat()}"
    if kind in _INT_KINDS and isinstance(typed, str) and _NEGATIVE.fullmatch(typed):
        return "cannot be negative: give a whole number"
    if kind == "greater_than_equal" and ctx.get("ge") == 0:  # money, counts: as a £0 rate's refusal says it
        return "cannot be negative"
    if kind in ("literal_error", "enum") and (typed == "" or "_" in str(ctx.get("expected", ""))):
        # a choice from a list whose values are keys ('onward_referral'): said as the list offers it, not by its keys
        return EMPTY if typed == "" else "is not one of the choices offered: choose one from the list"
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(str(ctx.get("pattern")), _IN_WORDS[kind])
    if kind == "value_error":
        said = message.removeprefix("Value error, ")
        if said.startswith(_NOT_AN_EMAIL):  # pydantic's words before email_validator's own (which are plain)
            why = said.removeprefix(_NOT_AN_EMAIL).strip()
            return f"is not an email address: {why[:1].lower()}{why[1:]}"
        return said
    template = _IN_WORDS.get(kind)
    if template is None:
        return message.removeprefix("Value error, ")
    if kind == "string_too_short" and (ctx.get("min_length") == 1 or (isinstance(typed, str) and not typed.strip())):
        return EMPTY  # a box left blank is missing, whatever the shortest it takes
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "needs at least one entry"
    try:
        return template.format(**{k: _shown(v) for k, v in ctx.items()})
    except (KeyError, IndexError):  # a context without what the words name: pydantic's own
        return message


def describe(err: ValidationError) -> str:
    return "; ".join(f"{field}: {message}" for field, message in field_errors(err).items())


class FieldsRefused(ValueError):
    """Input refused, naming each field at fault as the person knows it; the gate (`service/gate.py`) turns it
    into a `Refused`, the workflow's update validator into a refusal Temporal carries back to the gate."""

    def __init__(self, fields: dict[str, str]) -> None:
        fields = {field: _clipped(problem) for field, problem in fields.items()}
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in fields.items()))
        self.fields = fields


QUOTED_CHARS = 40
PROBLEM_CHARS = 500
"""A refusal says what is wrong with a field and may quote what was typed (`quoted`), but is never longer than
this: it travels through Temporal (an update's validator), whose payloads are bounded, and is shown on a page."""


def quoted(typed: str) -> str:
    """What was typed, in quotes, as a refusal shows it: its start only, if it is long, and any hidden control
    character shown as '�' (a NUL shown as itself reads as nothing, and '1\x00' as a plain '1')."""
    typed = "".join("�" if unicodedata.category(c) in ("Cc", "Cf") else c for c in typed)
    return f"'{typed}'" if len(typed) <= QUOTED_CHARS else f"'{typed[: QUOTED_CHARS - 1]}…'"


def _clipped(problem: str) -> str:
    return problem if len(problem) <= PROBLEM_CHARS else problem[: PROBLEM_CHARS - 1] + "…"


def validated(model: type[M], data: Any, renamed: dict[str, str] | None = None) -> M:
    """`data` as a `model`, or `FieldsRefused` naming every field at fault (`renamed` as the person knows it)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        names = renamed or {}
        raise FieldsRefused({names.get(k, k): v for k, v in field_errors(err).items()}) from err


def not_before(start_field: str, problem: str) -> Any:
    """A field validator for a period's end: refused with `problem` if before the `start_field` given beside it.
    One rule for every period a person gives (a claim's, a report's, an alert analysis's), each in its words:
    `_in_order = field_validator("end")(not_before("start", "..."))`."""

    def check(cls: type[BaseModel], end: Any, info: ValidationInfo) -> Any:
        start = info.data.get(start_field)
        if start is not None and end is not None and end < start:
            raise ValueError(problem)
        return end

    return classmethod(check)
