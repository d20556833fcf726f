"""The form a link page shows for each action, and turning a submitted form into a response."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError

from domain.contacts import Role
from domain.money import parse_pounds
from domain.responses import ResponseInput
from domain.validation import field_errors


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # "money", "text", "date"
    required: bool = False


AMOUNT = "amount"
FIELDS: dict[str, list[FormField]] = {
    "accept": [FormField("on_date", "Expected payment date (optional; default 30 days)", "date")],
    "accept_part": [
        FormField(AMOUNT, "Amount you offer (£)", "money", True),
        FormField("reasons", "Reasons", "text", True),
        FormField("on_date", "Expected payment date (optional)", "date"),
    ],
    "commission": [
        FormField("on_date", "Commissioned from", "date", True),
        FormField(AMOUNT, "Back-payment (£, optional)", "money"),
        FormField("reasons", "Details of the service", "text"),
    ],
    "reject": [FormField("reasons", "Reasons", "text", True)],
    "request_info": [FormField("text", "What information do you need?", "text", True)],
    "supply_info": [FormField("text", "The information requested", "text", True)],
    "dispute": [FormField("reasons", "Why the LMC disputes the response", "text", True)],
    "confirm_payment": [FormField(AMOUNT, "Amount received (£, optional)", "money")],
    "withdraw": [FormField("reasons", "Reasons", "text", True)],
}


class FormRefused(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def response_from_form(form: dict[str, str], actor_email: str, role: Role) -> ResponseInput:
    """Validate the submitted fields; errors are keyed by form field name."""
    action = form.get("action", "")
    errors: dict[str, str] = {}
    values: dict[str, object] = {"action": action, "actor_email": actor_email, "actor_role": role}
    for field in FIELDS.get(action, []):
        raw = form.get(field.name, "").strip()
        if not raw:
            if field.required:
                errors[field.name] = "required"
            continue
        try:
            if field.kind == "money":
                values["amount_pence"] = parse_pounds(raw)
            elif field.kind == "date":
                values["on_date"] = date.fromisoformat(raw)
            else:
                values[field.name] = raw
        except ValueError as err:
            errors[field.name] = str(err) if field.kind == "money" else f"'{raw}' is not a date (YYYY-MM-DD)"
    if errors:
        raise FormRefused(errors)
    try:
        return ResponseInput.model_validate(values)
    except ValidationError as err:
        names = {"amount_pence": AMOUNT}
        raise FormRefused({names.get(k, k): v for k, v in field_errors(err).items()}) from err
