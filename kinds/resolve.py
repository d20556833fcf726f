"""Rules every kind's builder shares: the officer and the organisations named in a request must be
configured, and incident practices become the domain's `Practice` records. Refusals name the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.configuration import EscalationConfig
from domain.contacts import Contact, Organisation
from domain.practice_return import Practice
from service.gate import admit, refuse_field

FORM_ROWS = 8
"""Rows a start form offers for repeated entries (claim lines, tariff items)."""


def officer(config: EscalationConfig, email: str) -> Contact:
    found = config.lmc.officer(email)
    if found is None:
        raise refuse_field("officer_email", f"{email} is not an officer of {config.lmc.name}")
    return found


def organisation(config: EscalationConfig, field: str, code: str, kind: str | None = None) -> Organisation:
    """The configured organisation `code`, of `kind` (icb or trust) when given."""
    try:
        org = config.organisation(code)
    except ValueError as err:
        raise refuse_field(field, str(err).removeprefix("payer_code: ")) from err
    if kind is not None and org.kind != kind:
        raise refuse_field(field, f"{org.code} is {kind_name(org.kind)}, not {kind_name(kind)}")
    return org


def kind_name(kind: str) -> str:
    return "an ICB" if kind == "icb" else "a trust"


def practices(entries: list[Any]) -> list[Practice]:
    return [
        admit(
            Practice,
            {
                "ods": p.ods,
                "name": p.name,
                "contact": {"name": p.contact_name, "title": "Practice manager", "email": p.contact_email},
            },
            renamed={},
        )
        for p in entries
    ]


def number(raw: str) -> Any:
    """Plain digits become a whole number, so a count too large is refused as too large; anything else
    (superscripts, another script's digits, a thousand digits) is passed on as typed so validation names the
    field."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 40 else (raw or None)


def practice_lines(text: str, with_weighting: bool) -> list[dict[str, Any]]:
    """A form's practices, one a line: ODS code, name, contact name, contact email[, weighting]."""
    found = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        parts = [p.strip() for p in line.split(",")]
        entry: dict[str, Any] = dict(zip(["ods", "name", "contact_name", "contact_email"], parts[:4], strict=False))
        if with_weighting and len(parts) > 4 and parts[4]:
            entry["weighting"] = parts[4]
        found.append(entry)
    return found


def optional(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name) or None


def organisations_context(config: EscalationConfig) -> dict[str, Any]:
    return {"organisations": config.organisations, "rows": range(FORM_ROWS)}
