"""Field-named error messages from pydantic validation, for people."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def field_errors(err: ValidationError) -> dict[str, str]:
    """{'lines.2.count': 'Input should be greater than or equal to 1', ...}"""
    errors: dict[str, str] = {}
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "input"
        message = item["msg"].removeprefix("Value error, ")
        errors.setdefault(field, message)
    return errors


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
    """What was typed, in quotes, as a refusal shows it: its start only, if it is long."""
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
