"""Rules every kind's builder shares: the officer and the organisations named in a request must be
configured, and incident practices become the domain's `Practice` records. Refusals name the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.configuration import EscalationConfig
from domain.contacts import Contact, Organisation, barring_interest
from domain.money import parse_pounds
from domain.practice_return import Practice
from service.gate import admit, refuse_field
from service.refusals import Refused

FORM_ROWS = 8
"""Rows a start form offers for repeated entries (claim lines, tariff items)."""


def officer(config: EscalationConfig, email: str, parties: Mapping[str, str] | None = None) -> Contact:
    """The officer who starts an escalation. One with a declared interest in any of its `parties` (each code with
    the field that names it) may view it but not act on it, so may not start it either: refused beside the party,
    rather than started with nobody able to act on it as its officer."""
    found = config.lmc.officer(email)
    if found is None:
        raise refuse_field("officer_email", f"{email} is not an officer of {config.lmc.name}")
    named = {code.upper(): field for code, field in (parties or {}).items()}
    interest = barring_interest(config.lmc.interests, found.email, named)
    if interest is not None:
        nature = f" ({interest.nature})" if interest.nature else ""
        raise refuse_field(
            named[interest.party],
            f"{found.email} has declared an interest in {interest.party}{nature}, so may view an escalation "
            "involving it but not start or act on one; another officer should start it",
        )
    return found


def practice_parties(request: Any) -> dict[str, str]:
    """An incident's practices as parties (`officer`), each with the field that names it."""
    return {p.ods: f"practices.{n}.ods" for n, p in enumerate(request.practices)}


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


def pounds(typed: str, field: str, problems: dict[str, str]) -> int | None:
    """An amount typed in pounds ('15', '£1,250.50') as pence; what cannot be read is added to `problems` beside
    `field`, in the words that say how to write it, and the form is refused with everything else it lacks."""
    if not typed.strip():
        problems[field] = "is required: a rate per item in pounds, e.g. 25.00"
        return None
    try:
        return parse_pounds(typed)
    except ValueError as err:
        problems[field] = str(err)
        return None


def filled_rows(form: Mapping[str, str], part: str, names: tuple[str, ...]) -> list[int]:
    """The rows of a form's repeated `part` (claim lines, tariff items) with anything typed in them, in order:
    rows left empty are not entries, and the entries' places in the request map back to these rows (`rows`)."""
    return [row for row in range(FORM_ROWS) if any(form.get(f"{part}.{row}.{n}", "").strip() for n in names)]


def text_lines(text: str) -> list[tuple[int, str]]:
    """A box of one entry a line: (line index, line) for each line with something on it."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines()) if line.strip()]


def practice_lines(text: str, with_weighting: bool) -> list[dict[str, Any]]:
    """A form's practices, one a line: ODS code, name, contact name, contact email[, weighting], separated by
    commas, or by tabs on a line pasted from a spreadsheet (whose names may then hold commas). A line that cannot
    be read as that (more values than it takes; a spreadsheet row whose first column is empty) is refused on its
    line, never cut short or read one column over unseen."""
    found = []
    names = ["ODS code", "name", "contact name", "contact email"] + (["weighting"] if with_weighting else [])
    typed = text.splitlines()
    problems = {}
    lines = []
    for n, _ in text_lines(text):
        pasted = "\t" in typed[n].rstrip()
        parts = _cells(typed[n], pasted)
        if pasted and not parts[0]:
            problems[f"practices.{n}"] = (
                "its first column is empty: the ODS code goes first (leave out any column before it)"
            )
        elif len(parts) > len(names):
            how = (
                "remove the extra columns"
                if pasted
                else "leave out any comma inside a name, or paste the line from a spreadsheet"
            )
            problems[f"practices.{n}"] = (
                f"has {len(parts)} {'columns' if pasted else 'values'}, where a line takes at most {len(names)} "
                f"({', '.join(names)}); {how}"
            )
        lines.append(parts)
    if problems:
        raise Refused.invalid(problems)
    for parts in lines:
        entry: dict[str, Any] = dict(zip(["ods", "name", "contact_name", "contact_email"], parts[:4], strict=False))
        if with_weighting and len(parts) > 4 and parts[4]:
            entry["weighting"] = parts[4]
        found.append(entry)
    return found


def _cells(line: str, pasted: bool) -> list[str]:
    """A practice line's values: between tabs for a spreadsheet's row (`pasted`; empty cells after the last are
    dropped), or else between commas."""
    if pasted:
        return [cell.strip() for cell in line.rstrip().split("\t")]
    return [cell.strip() for cell in line.split(",")]


def practice_rows(form: Mapping[str, str]) -> dict[str, list[int]]:
    """Where each practice of the box sits: its line, counted with the blank ones a person sees."""
    return {"practices": [n for n, _ in text_lines(form.get("practices", ""))]}


def as_typed(fields: dict[str, str], rows: Mapping[str, list[int]]) -> dict[str, str]:
    """Refusals of a request's entries ('lines.0.count') placed on the form rows they came from ('lines.2.count'
    where rows 0 and 1 were left empty), so each shows beside what was typed and counts rows as the person does."""
    placed = {}
    for name, problem in fields.items():
        part, _, rest = name.partition(".")
        index, _, tail = rest.partition(".")
        at = rows.get(part)
        if at is not None and index.isascii() and index.isdecimal() and int(index) < len(at):
            name = ".".join(p for p in (part, str(at[int(index)]), tail) if p)
        placed[name] = problem
    return placed


def optional(form: Mapping[str, str], name: str) -> str | None:
    return form.get(name) or None


def organisations_context(config: EscalationConfig) -> dict[str, Any]:
    return {"organisations": config.organisations, "rows": range(FORM_ROWS)}
