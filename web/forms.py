"""Turning a submitted link-page form into a response, by the field specs the case gives."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.contacts import Role
from domain.money import parse_pounds
from domain.responses import FieldSpec, ResponseInput
from service.gate import admit
from service.refusals import Refused

GROUP_ROWS = 8  # rows a groups field offers on the page


def _count(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(f"'{raw}' is not a whole number of zero or more")
    return int(raw)


def _groups(form: dict[str, str], name: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    groups = []
    for row in range(GROUP_ROWS):
        patients = form.get(f"{name}.{row}.patients", "").strip()
        days = form.get(f"{name}.{row}.days_off", "").strip()
        still_off = form.get(f"{name}.{row}.still_off", "") in ("on", "true", "1")
        since = form.get(f"{name}.{row}.off_since", "").strip()
        if not (patients or days or still_off or since):
            continue
        try:
            groups.append(
                {
                    "patients": _count(patients),
                    "days_off": _count(days) if days else None,
                    "still_off": still_off,
                    "off_since": date.fromisoformat(since) if since else None,
                }
            )
        except ValueError as err:
            errors[f"{name}.{row}"] = str(err)
    return groups


def response_from_form(form: dict[str, str], fields: list[FieldSpec], actor_email: str, role: Role) -> ResponseInput:
    """The submitted fields through the gate; a `Refused` names each form field at fault."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"action": form.get("action", ""), "actor_email": actor_email, "actor_role": role}
    for field in fields:
        if field.kind == "groups":
            groups = _groups(form, field.name, errors)
            if groups:
                values["groups"] = groups
            elif field.required and field.name not in errors:
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
                try:
                    values["on_date"] = date.fromisoformat(raw)
                except ValueError:
                    raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD)") from None
            elif field.kind == "count":
                values.setdefault("counts", {})[field.name.removeprefix("count.")] = _count(raw)
            else:
                values[field.name] = raw
        except ValueError as err:
            errors[field.name] = str(err)
    if errors:
        raise Refused.invalid(errors)
    return admit(ResponseInput, values, renamed={"amount_pence": "amount"})
