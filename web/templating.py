"""The one Jinja environment every page renders through, with the wording pages share."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from domain import formatting, wording
from domain.calendar import calendar_of_case

_HIDDEN = {c: "\ufffd" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))}
_ANY_HIDDEN = re.compile("[" + "".join(map(chr, _HIDDEN)) + "]")
"""Control characters but tab and line breaks: what a hostile request may carry back into a page (a filter's
value, an address, a box as typed), which a page shows as '\ufffd' rather than as itself."""


def _shown(value: object) -> object:
    """Every value a page prints, before escaping: any control character it carries shown as '\ufffd' (a NUL in
    a page reads as nothing, or ends it for some readers), whatever route echoed it."""
    if not isinstance(value, str) or not _ANY_HIDDEN.search(value):  # nearly every value: as it is
        return value
    if isinstance(value, Markup):
        return Markup(str(value).translate(_HIDDEN))
    return value.translate(_HIDDEN)


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.finalize = _shown  # before any template is compiled: Jinja builds it into each one


@pass_context
def deadline_in_words(context: Context, deadline: str | None) -> str | None:
    """'Monday 30 November 2026, 5pm (3 working days left)' from a view's ISO deadline, the working
    days counted over the calendar the page's escalation (`view`) carries."""
    if not deadline:
        return None
    view = context.get("view")
    calendar = calendar_of_case(view.case if view is not None and isinstance(view.case, dict) else {})
    return formatting.deadline(datetime.fromisoformat(deadline), datetime.now(UTC), calendar)


FIELD_WORDS = {
    "text": "Details",
    "reasons": "Reasons",
    "amount": "Amount",
    "amount_pence": "Amount",
    "on_date": "Date",
    "counts": "Counts",
    "groups": "Patients deregistered",
    "action": "Action",
    "submission": "This form",
    "how": "How to stop it",
    "confirm": "Confirmation",
    "reason": "Reason",
    # the start forms' fields, as their labels say them
    "period_start": "Period from",
    "period_end": "Period to",
    "payer_code": "ICB",
    "icb_code": "ICB",
    "trust_code": "Trust",
    "provider": "Provider responsible",
    "error_start": "Error from",
    "error_end": "Error to",
    "incident_start": "Incident began on",
    "still_off_until": "Count patients still off the list up to",
    "rate_year": "Capitation rate year",
    "return_deadline": "Return deadline",
    "year_end_reconciliation_date": "Year-end reconciliation date",
    "practice_ods": "Practice ODS code",
    "practice_name": "Practice name",
    "practice_email": "Practice contact email",
}


def field_words(name: str) -> str:
    """A form field's name as a person reads it, when the form's own label is not at hand."""
    if name.startswith("count."):
        return "Count: " + name.removeprefix("count.").replace("_", " ")
    if name.startswith("groups."):
        parts = name.split(".")
        row = f"group {int(parts[1]) + 1}" if len(parts) > 1 and parts[1].isdigit() else "a group"
        rest = " ".join(GROUP_WORDS.get(p, p.replace("_", " ")) for p in parts[2:])
        return f"Patients deregistered, {row}, {rest}" if rest else f"Patients deregistered, {row}"
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] in ROWS and parts[1].isdigit():  # lines.0.unit_rate_pence: "Line 1: unit rate"
        row = f"{ROWS[parts[0]]} {int(parts[1]) + 1}"
        rest = " ".join(PART_WORDS.get(p, p.replace("_", " ").removesuffix(" pence")) for p in parts[2:])
        return f"{row}: {rest}" if rest else row
    return FIELD_WORDS.get(name, name.replace("_", " ").replace(".", ": ").capitalize())


PART_WORDS = {"unit_rate_pence": "rate per item", "count": "items", "rate_pence": "rate", "ods": "ODS code"}
"""A row's fields as the form's column headings say them."""
GROUP_WORDS = {
    "patients": "number of patients",
    "days_off": "days off the list",
    "still_off": "still off the list",
    "off_since": "off since",
}
"""A deregistered group's fields as the return form's boxes are labelled."""
ROWS = {"lines": "Line", "rows": "Row", "tariff": "Tariff item", "practices": "Practice", "items": "Item"}
"""A form's repeated parts, as people count them (from 1)."""


templates.env.filters["at_london"] = formatting.moment_in_a_row  # when something happened, never ISO
templates.env.filters["waiting_words"] = wording.waiting
templates.env.filters["deadline_in_words"] = deadline_in_words
templates.env.filters["wait_words"] = wording.wait
templates.env.filters["outcome_words"] = wording.outcome
templates.env.filters["holder_words"] = wording.holder
templates.env.globals["waiting_words"] = wording.waiting
templates.env.filters["field_words"] = field_words
templates.env.filters["status_words"] = wording.status  # as `starter.py list` says it
templates.env.filters["counted"] = formatting.counted
