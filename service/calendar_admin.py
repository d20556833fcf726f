"""Ops change the bank-holiday calendar (load gov.uk's file, or add one announced holiday) and every running
escalation is told: each is sent the new calendar as a workflow update, recomputes a pending deadline the change
moves, audits why and tells whoever had the old date. The change itself is in the security and operations log
(`persistence.calendars`). New escalations start with the calendar installed when they start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine
from temporalio.client import Client

from domain.calendar import BankHoliday, Calendar, CalendarChange, WorkingCalendar, from_govuk
from domain.configuration import EscalationConfig
from domain.identifiers import HeaderText
from domain.validation import field_errors
from persistence.calendars import Calendars
from service import listing
from service.gate import admit, parse_json, refuse_field
from service.refusals import Refused, Why, search_refusals, temporal_refusals
from workflows import search_attributes as sa
from workflows.escalation_workflow import EscalationWorkflow

log = structlog.get_logger(__name__)

TELL_AT_ONCE = 20  # updates in flight together: an incident's thousands of practices are told in a stream
UPDATE_TIMEOUT = timedelta(seconds=15)  # per escalation: one whose worker is away is listed, not waited on


class QueueName(BaseModel):
    """The task queue goes into a visibility query: nothing that could change the query."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,200}$")


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
    not_told: list[str] = field(default_factory=list)  # finished meanwhile, or did not answer in time


def working_calendar(engine: Engine, today: date | None = None) -> WorkingCalendar:
    """The calendar a new escalation starts with: the installed one, from last year on (bounded)."""
    year = (today or datetime.now(UTC).date()).year
    return Calendars(engine).current().working(year - 1)


def with_calendar(config: EscalationConfig, engine: Engine) -> EscalationConfig:
    """`config` carrying the installed calendar, for a kind's builder and the start model it makes."""
    return config.model_copy(update={"calendar": working_calendar(engine)})


def show(engine: Engine) -> Calendar:
    return Calendars(engine).current()


async def load(engine: Engine, client: Client, task_queue: str, path: Path, by: str) -> Told:
    """Install gov.uk's `bank-holidays.json` from `path` and tell every running escalation. Loading the file
    that is installed already changes nothing, and tells them again (harmless: each has it already)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise refuse_field("file", f"cannot read {path} ({err})") from err
    return await load_text(engine, client, task_queue, text, by, f"file {path.name}")


async def load_text(engine: Engine, client: Client, task_queue: str, text: str, by: str, source: str) -> Told:
    """gov.uk's `bank-holidays.json` as text (a file, or pasted into the console): install it for the years
    it lists (the installed calendar stays for the others), and tell every running escalation. A file that
    would take more than one installed holiday from a year, this year or later, is refused: it is part of
    gov.uk's file or another file, not a moved holiday (`domain.calendar_losses`)."""
    by = admit(ChangedBy, {"by": by}).by
    data = parse_json(text, "file", "it")
    try:
        calendar = from_govuk(data)
    except ValidationError as err:
        problems = "; ".join(f"{where}: {problem}" for where, problem in list(field_errors(err).items())[:3])
        raise refuse_field("file", f"an event is not a bank holiday gov.uk would list ({problems})") from err
    except ValueError as err:
        raise _refusal(err) from err
    calendars = Calendars(engine)
    try:  # before Temporal is asked anything: a refused file changes nothing and tells no escalation
        before, after = calendars.updated_by(calendar, datetime.now(UTC))
    except ValueError as err:
        raise _refusal(err) from err
    running = await running_escalations(client, task_queue)  # first: if Temporal is away, nothing is installed
    calendar, changed = calendars.install(after, by, datetime.now(UTC), source)
    return await tell(client, running, before, calendar, changed, by)


async def add(engine: Engine, client: Client, task_queue: str, day: str, title: str, by: str) -> Told:
    """Add one announced holiday (a State Funeral, a Coronation) and tell every running escalation."""
    wanted = admit(AnnouncedHoliday, {"day": day, "title": title}, renamed={"day": "date"})
    by = admit(ChangedBy, {"by": by}).by
    if wanted.day.weekday() >= 5:
        raise refuse_field("date", f"{wanted.day:%A %-d %B %Y} is a weekend day; a bank holiday is on a weekday")
    if wanted.day <= datetime.now(UTC).date():
        raise refuse_field("date", f"{wanted.day:%-d %B %Y} has passed; a newly announced holiday is ahead")
    calendars = Calendars(engine)
    if not calendars.current().covers(wanted.day):
        installed = calendars.current()
        raise refuse_field(
            "date",
            f"{wanted.day:%-d %B %Y} is outside the installed calendar ({installed.first_year} to "
            f"{installed.last_year}); load gov.uk's bank-holidays.json for {wanted.day.year} first",
        )
    running = await running_escalations(client, task_queue)
    before = calendars.current()
    try:
        calendar = calendars.add_holiday(wanted.day, wanted.title, by, datetime.now(UTC))
    except ValueError as err:
        raise _refusal(err) from err
    return await tell(client, running, before, calendar, True, by)


async def running_escalations(client: Client, task_queue: str) -> list[str]:
    """Every running escalation and part of one on this engine's task queue, by Temporal visibility."""
    from kinds import case_kinds  # here: the registry imports every workflow

    kinds = ", ".join(f"'{k}'" for k in sorted(case_kinds()))
    queue = admit(QueueName, {"name": task_queue}).name
    query = f"{listing.OPEN} AND TaskQueue = '{queue}' AND {sa.KIND.name} IN ({kinds})"
    with search_refusals("the list of running escalations"):
        return [wf.id async for wf in client.list_workflows(query)]


async def tell(client: Client, running: list[str], before: Calendar, after: Calendar, changed: bool, by: str) -> Told:
    """Send `after` to each of `running`. One that does not answer in time, or finished meanwhile, is
    listed as not told, never waited for: loading the same file again tells it again (each update is
    named by the calendar's version, so none is applied twice)."""
    added, removed = after.changes_from(before)
    today = datetime.now(UTC).date()
    change = CalendarChange(
        calendar=after.working(today.year - 1),
        added=[BankHoliday(day=h.day, title=h.title) for h in added],
        removed=[BankHoliday(day=h.day, title=h.title) for h in removed],
        by=by,
    )
    told = Told(calendar=after, changed=changed)
    gate = asyncio.Semaphore(TELL_AT_ONCE)

    async def tell_one(escalation_id: str) -> None:
        async with gate:
            try:
                with temporal_refusals(escalation_id):
                    said = await client.get_workflow_handle(escalation_id).execute_update(
                        EscalationWorkflow.change_calendar,
                        change,
                        id=f"calendar-{change.calendar.version}",
                        rpc_timeout=UPDATE_TIMEOUT,
                    )
            except Refused as refused:
                if refused.why is not Why.CLOSED:  # one that closed meanwhile has no deadline to move
                    told.not_told.append(f"{escalation_id}: {refused.message}")
                return
            told.told += 1
            if said.moved:
                told.moved.append(said.message)

    await asyncio.gather(*(tell_one(i) for i in running))
    log.info("calendar_told", version=after.version, told=told.told, moved=len(told.moved), missed=len(told.not_told))
    return told


def _refusal(err: ValueError) -> Refused:
    """The domain's and the store's words ('date: ...', 'file: ...') as a refusal naming the field."""
    message = str(err)
    name, _, problem = message.partition(": ")
    if name in ("date", "file") and problem:
        return refuse_field(name, problem)
    return refuse_field("file", message)
