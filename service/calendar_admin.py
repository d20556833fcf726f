"""Ops change the bank-holiday calendar (load gov.uk's file, or add one announced holiday) and every running
escalation is told: each is sent the new calendar as a workflow update, recomputes a pending deadline the change
moves, audits why and tells whoever had the old date. The change itself is in the security and operations log
(`persistence.calendars`). New escalations start with the calendar installed when they start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from temporalio.client import Client

from domain.calendar import BankHoliday, Calendar, CalendarChange, WorkingCalendar
from domain.configuration import EscalationConfig
from domain.identifiers import HeaderText
from persistence.calendars import Calendars
from service.gate import admit, refuse_field
from service.refusals import Refused, Why, temporal_refusals
from workflows import search_attributes as sa
from workflows.escalation_workflow import EscalationWorkflow

log = structlog.get_logger(__name__)

TELL_AT_ONCE = 20  # updates in flight together: an incident's thousands of practices are told in a stream


class ChangedBy(BaseModel):
    """Who changes the calendar, as the security log and each escalation's audit trail name them."""

    by: HeaderText = Field(min_length=1, max_length=320)


class AnnouncedHoliday(BaseModel):
    """One announced holiday, as ops type it: a date and gov.uk's title for it."""

    day: date
    title: HeaderText = Field(min_length=3, max_length=120)


@dataclass
class Told:
    """What telling the running escalations came to."""

    calendar: Calendar
    changed: bool
    told: int = 0
    moved: list[str] = field(default_factory=list)  # what each escalation whose deadline moved said
    missed: list[str] = field(default_factory=list)  # escalations that could not be told (finished meanwhile)


def working_calendar(engine: Engine, today: date | None = None) -> WorkingCalendar:
    """The calendar a new escalation starts with: the installed one, from last year on (bounded)."""
    year = (today or datetime.now(UTC).date()).year
    return Calendars(engine).current().working(year - 1)


def with_calendar(config: EscalationConfig, engine: Engine) -> EscalationConfig:
    """`config` carrying the installed calendar, for a kind's builder and the start model it makes."""
    return config.model_copy(update={"calendar": working_calendar(engine)})


def show(engine: Engine) -> Calendar:
    return Calendars(engine).current()


async def load(engine: Engine, client: Client, path: Path, by: str) -> Told:
    """Install gov.uk's `bank-holidays.json` from `path` and tell every running escalation. Loading the file
    that is installed already changes nothing, and tells them again (harmless: each has it already)."""
    by = admit(ChangedBy, {"by": by}).by
    calendars = Calendars(engine)
    before = calendars.current()
    try:
        calendar, changed = calendars.load_file(path, by, datetime.now(UTC))
    except ValueError as err:
        raise _refusal(err) from err
    return await tell_running(client, before, calendar, changed, by)


async def add(engine: Engine, client: Client, day: str, title: str, by: str) -> Told:
    """Add one announced holiday (a State Funeral, a Coronation) and tell every running escalation."""
    wanted = admit(AnnouncedHoliday, {"day": day, "title": title}, renamed={"day": "date"})
    by = admit(ChangedBy, {"by": by}).by
    calendars = Calendars(engine)
    before = calendars.current()
    if wanted.day.weekday() >= 5:
        raise refuse_field("date", f"{wanted.day:%A %-d %B %Y} is a weekend day; a bank holiday is on a weekday")
    try:
        calendar = calendars.add_holiday(wanted.day, wanted.title, by, datetime.now(UTC))
    except ValueError as err:
        raise _refusal(err) from err
    return await tell_running(client, before, calendar, True, by)


async def tell_running(client: Client, before: Calendar, after: Calendar, changed: bool, by: str) -> Told:
    """Send `after` to every running escalation and part of one (listed by Temporal visibility)."""
    from kinds import case_kinds  # here: the registry imports every workflow

    added, removed = after.changes_from(before)
    today = datetime.now(UTC).date()
    change = CalendarChange(
        calendar=after.working(today.year - 1),
        added=[BankHoliday(day=h.day, title=h.title) for h in added],
        removed=[BankHoliday(day=h.day, title=h.title) for h in removed],
        by=by,
    )
    told = Told(calendar=after, changed=changed)
    kinds = ", ".join(f"'{k}'" for k in sorted(case_kinds()))
    query = f"ExecutionStatus = 'Running' AND {sa.KIND.name} IN ({kinds})"
    with temporal_refusals("the list of running escalations"):
        ids = [wf.id async for wf in client.list_workflows(query)]
    gate = asyncio.Semaphore(TELL_AT_ONCE)

    async def tell(escalation_id: str) -> None:
        async with gate:
            try:
                with temporal_refusals(escalation_id):
                    said = await client.get_workflow_handle(escalation_id).execute_update(
                        EscalationWorkflow.change_calendar, change, id=f"calendar-{change.calendar.version}"
                    )
            except Refused as refused:
                if refused.why is Why.UNAVAILABLE:
                    raise
                told.missed.append(f"{escalation_id}: {refused.message}")
                return
            told.told += 1
            if "deadline moved" in str(said):
                told.moved.append(str(said))

    await asyncio.gather(*(tell(i) for i in ids))
    log.info("calendar_told", version=after.version, told=told.told, moved=len(told.moved), missed=len(told.missed))
    return told


def _refusal(err: ValueError) -> Refused:
    """The domain's and the store's words ('date: ...', 'file: ...') as a refusal naming the field."""
    message = str(err)
    name, _, problem = message.partition(": ")
    if name in ("date", "file") and problem:
        return refuse_field(name, problem)
    return refuse_field("file", message)
