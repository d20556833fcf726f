"""Field-named error messages from pydantic validation, for people."""

from __future__ import annotations

from pydantic import ValidationError


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
