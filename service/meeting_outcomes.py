"""Recording what a liaison meeting agreed: the officer's outcomes form, through the gate, stored
append-only; each commitment then starts its own escalation (a confirmation the ICB contact is asked
for by the date agreed, reminded and climbing the ladder like any other), linked to the meeting by
its reference. Recording the same form twice stores and starts nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, date, datetime

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.configuration import EscalationConfig
from domain.confirmation import KIND as CONFIRMATION
from domain.escalation import CURRENT_RULES
from domain.liaison import TOPIC, MeetingOutcomes, OutcomeRow, commitment_request, ladder_from, missing_commitment_parts
from domain.working_days import after_today, describe_date, london_date, not_working_because, working_day_problem
from kinds import resolve
from persistence.meetings import Meetings, NewOutcome, RecordedOutcome
from service.calendar_admin import with_calendar
from service.gate import admit
from service.meeting_pack import icb_of
from service.refusals import Refused, temporal_refusals
from settings import Settings
from workflows import search_attributes as sa
from workflows.confirmation import ConfirmationWorkflow, StartConfirmation

ROW_FIELDS = ("item", "outcome", "commitment", "contact", "due")


def rows_in(form: Mapping[str, str], rows: int) -> dict[str, dict[str, str]]:
    """The form's filled rows, by their index as posted (`rows.3.outcome` ...); a row left empty is skipped."""
    found = {}
    for i in range(rows):
        row = {name: form.get(f"rows.{i}.{name}", "").strip() for name in ROW_FIELDS}
        if any(row[name] for name in ROW_FIELDS if name != "item"):
            found[str(i)] = {k: v for k, v in row.items() if v}
    return found


def meeting_date_problem(config: EscalationConfig, meeting_date: date, today: date) -> str | None:
    """Why outcomes cannot be recorded for a meeting on `meeting_date`: one still to come, or a date no
    liaison meeting is held on (a weekend or a bank holiday: most likely a slip choosing the date)."""
    if (ahead := after_today(meeting_date, today, "record a meeting's outcomes once it has taken place")) is not None:
        return ahead
    why = not_working_because(config.calendar, meeting_date) if config.calendar.covers(meeting_date) else None
    if why is not None:
        return f"{describe_date(meeting_date)} is {why}: check the date the meeting was held"
    return None


def admit_outcomes(
    config: EscalationConfig, icb_code: str, form: Mapping[str, str], rows: int, today: date, meeting_date: date
) -> list[OutcomeRow]:
    """The form's rows as outcomes, or `Refused` naming each field at fault as the form names it."""
    icb = icb_of(config, icb_code)
    if problem := meeting_date_problem(config, meeting_date, today):
        raise Refused.invalid({"date": problem})
    filled = rows_in(form, rows)
    if not filled:
        raise Refused.invalid({"rows.0.outcome": "Write what was agreed for at least one item"})
    order = list(filled)
    try:
        admitted = admit(MeetingOutcomes, {"rows": [filled[i] for i in order]}).rows
        errors: dict[str, str] = {}
    except Refused as refused:  # renumber to the rows as posted (empty rows were skipped)
        errors = {_posted(name, order): problem for name, problem in refused.fields.items()}
        admitted = []
    for position, row in enumerate(admitted):
        prefix = f"rows.{order[position]}"
        for name, problem in missing_commitment_parts(row).items():
            errors[f"{prefix}.{name}"] = problem
        if row.contact and not icb.knows(row.contact):
            errors[f"{prefix}.contact"] = f"{row.contact} is not one of {icb.name}'s contacts"
        if row.due and (why := working_day_problem(config.calendar, row.due, today)):
            errors[f"{prefix}.due"] = f"The date must be a working day, not in the past: {why}"
    if errors:
        raise Refused.invalid(errors)
    return admitted


def _posted(name: str, order: list[str]) -> str:
    parts = name.split(".")
    if len(parts) >= 3 and parts[0] == "rows" and parts[1].isdigit() and int(parts[1]) < len(order):
        return ".".join(["rows", order[int(parts[1])], *parts[2:]])
    return "rows.0.outcome"


async def record(
    client: Client,
    settings: Settings,
    meetings: Meetings,
    officer_email: str,
    icb_code: str,
    meeting_date: date,
    submission: str,
    form: Mapping[str, str],
    rows: int,
    titles: Mapping[str, str],
) -> list[RecordedOutcome]:
    """Store the meeting's outcomes and start a chased request for each commitment; `titles` names the
    items discussed (by reference), for the words the ICB contact is sent."""
    config = with_calendar(settings.escalation_config(), meetings.engine)
    icb = icb_of(config, icb_code)
    officer = resolve.officer(config, officer_email)
    now = datetime.now(UTC)
    admitted = admit_outcomes(config, icb.code, form, rows, london_date(now), meeting_date)
    recorded = meetings.record(
        submission,
        icb.code,
        meeting_date,
        officer.email,
        now,
        [NewOutcome(r.item, r.outcome, r.commitment, r.contact, r.due) for r in admitted],
    )
    for outcome in recorded:
        if outcome.commitment_id:
            await start_commitment(client, settings, config, outcome, officer.email, titles)
    return recorded


async def start_commitment(
    client: Client,
    settings: Settings,
    config: EscalationConfig,
    outcome: RecordedOutcome,
    officer_email: str,
    titles: Mapping[str, str],
) -> None:
    """Start the commitment's escalation under its own reference; already started, nothing changes."""
    assert outcome.commitment_id and outcome.commitment and outcome.contact_email and outcome.due
    icb = icb_of(config, outcome.payer_code)
    contact = next(c for c in icb.ladder if c.email == outcome.contact_email)
    item_title = titles.get(outcome.item) if outcome.item else None
    start = StartConfirmation(
        escalation_id=outcome.commitment_id,
        request=commitment_request(icb, contact, outcome.commitment, outcome.due, outcome.meeting_date, item_title),
        lmc=config.lmc,
        officer=resolve.officer(config, officer_email),
        policy=config.policy(TOPIC),
        payer=ladder_from(icb, contact),
        rules=CURRENT_RULES,
        calendar=config.calendar,
    )
    # Already started (this form was sent before): its commitment is being chased already.
    with temporal_refusals(outcome.commitment_id), suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            ConfirmationWorkflow.run,
            start,
            id=outcome.commitment_id,
            task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.KIND, CONFIRMATION),
                    SearchAttributePair(sa.STATUS, "awaiting"),
                    SearchAttributePair(sa.PAYER, icb.code),
                ]
            ),
        )
