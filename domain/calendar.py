"""The England and Wales bank-holiday calendar as data, in the shape gov.uk publishes
(`bank-holidays.json`, division `england-and-wales`), with a version, so a calendar can travel into
an escalation's history and a newly announced holiday can be added without a release."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from domain.identifiers import HeaderText
from domain.legacy_calendar import FIRST_YEAR, LAST_YEAR, LEGACY_HOLIDAYS, LEGACY_VERSION
from domain.validation import field_errors, quoted

DIVISION = "england-and-wales"


class BankHoliday(BaseModel):
    day: date
    title: HeaderText = Field(min_length=1, max_length=120)


class Calendar(BaseModel):
    """A version of the calendar; `first_year`..`last_year` are the years it vouches for."""

    version: str = Field(min_length=1, max_length=40)
    holidays: list[BankHoliday]
    first_year: int
    last_year: int

    @property
    def days(self) -> frozenset[date]:
        return frozenset(h.day for h in self.holidays)

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year

    def with_holiday(self, day: date, title: str) -> Calendar:
        """This calendar plus one announced holiday (a State Funeral, a Coronation)."""
        if day in self.days:
            raise ValueError(f"date: {day:%-d %B %Y} is already a bank holiday")
        holidays = sorted([*self.holidays, BankHoliday(day=day, title=title)], key=lambda h: h.day)
        return calendar_of(holidays, min(self.first_year, day.year), max(self.last_year, day.year))

    def updated_by(self, published: Calendar) -> Calendar:
        """`published` (gov.uk's file, which lists only a few years) for the years it covers, and this
        calendar for the years it does not: loading a newer file never shrinks what running escalations
        can count over."""
        inside = range(published.first_year, published.last_year + 1)
        kept = [h for h in self.holidays if h.day.year not in inside]
        holidays = sorted([*kept, *published.holidays], key=lambda h: h.day)
        return calendar_of(
            holidays, min(self.first_year, published.first_year), max(self.last_year, published.last_year)
        )

    def working(self, from_year: int | None = None) -> WorkingCalendar:
        """The dates a case counts over, from `from_year` on (a case never looks years back): bounded
        in size, so it can travel in every start input and update."""
        first = max(self.first_year, from_year) if from_year is not None else self.first_year
        days = tuple(sorted(h.day for h in self.holidays if h.day.year >= first))
        return WorkingCalendar(version=self.version, first_year=first, last_year=self.last_year, holidays=days)

    def changes_from(self, older: Calendar) -> tuple[list[BankHoliday], list[BankHoliday]]:
        """(added, removed) relative to `older`."""
        before, after = older.days, self.days
        return (
            [h for h in self.holidays if h.day not in before],
            [h for h in older.holidays if h.day not in after],
        )


def calendar_of(holidays: list[BankHoliday], first_year: int, last_year: int) -> Calendar:
    """A calendar whose version is named by its content: the same holidays, the same version."""
    canonical = ";".join(f"{h.day.isoformat()}={h.title}" for h in sorted(holidays, key=lambda h: h.day))
    digest = hashlib.sha256(f"{first_year}-{last_year}|{canonical}".encode()).hexdigest()[:12]
    return Calendar(version=f"ew-{digest}", holidays=holidays, first_year=first_year, last_year=last_year)


def from_govuk(data: Any) -> Calendar:
    """A calendar from gov.uk's `bank-holidays.json`; a file without the division or its events is refused."""
    if not isinstance(data, dict) or not isinstance(data.get(DIVISION), dict):
        raise ValueError(f"file: no '{DIVISION}' division (is this gov.uk's bank-holidays.json?)")
    events = data[DIVISION].get("events")
    if not isinstance(events, list) or not events:
        raise ValueError(f"file: the '{DIVISION}' division lists no events")
    holidays = [_event(n, e) for n, e in enumerate(events, start=1) if isinstance(e, dict)]
    years = {h.day.year for h in holidays}
    if not years or min(years) < 2000 or max(years) > 2100:
        raise ValueError("file: gov.uk lists England and Wales bank holidays between 2000 and 2100; this file does not")
    missing = sorted(set(range(min(years), max(years) + 1)) - years)
    if missing:  # the calendar vouches for every year from its first to its last
        raise ValueError(f"file: lists no holidays in {missing[0]} (gov.uk's file lists every year it covers)")
    return calendar_of(sorted(holidays, key=lambda h: h.day), min(years), max(years))


_FILE_KEYS = {"day": "date", "title": "title"}
"""`BankHoliday`'s fields as gov.uk's file names them."""


def _event(n: int, event: dict[str, Any]) -> BankHoliday:
    """The file's `n`th event as a holiday; refused naming the event and its key as the file writes it."""
    try:
        return BankHoliday(day=event.get("date"), title=event.get("title"))
    except ValidationError as err:
        title = event.get("title")
        named = f" ({quoted(title)})" if isinstance(title, str) and title.strip() else ""
        problems = "; ".join(f"{_FILE_KEYS.get(k, k)} {p}" for k, p in field_errors(err).items())
        raise ValueError(f"file: event {n}{named} is not a bank holiday gov.uk would list: {problems}") from None


def to_govuk(calendar: Calendar) -> dict[str, Any]:
    events = [{"title": h.title, "date": h.day.isoformat(), "notes": "", "bunting": True} for h in calendar.holidays]
    return {DIVISION: {"division": DIVISION, "events": events}}


class WorkingCalendar(BaseModel):
    """The bank holidays an escalation counts working days over: a version and dates (no titles),
    part of the escalation's history, so replay never depends on what is installed at replay time.

    The frozen legacy calendar (`domain.legacy_calendar`) travels by its name alone: a case or start
    recorded before calendars travelled reads as it, and it is written back as just its name. Others
    write their dates compactly ("2026-01-01 04-03 04-06 ... 2027-01-01 ..."): every practice of an
    incident carries one in its start, so a few hundred bytes each, not a list of ISO strings."""

    model_config = ConfigDict(frozen=True)

    version: str = Field(min_length=1, max_length=40)
    first_year: int = FIRST_YEAR
    last_year: int = LAST_YEAR
    holidays: tuple[date, ...] = ()
    _days: frozenset[date] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="before")
    @classmethod
    def _legacy_by_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("version") == LEGACY_VERSION:
            return {
                "version": LEGACY_VERSION,
                "first_year": FIRST_YEAR,
                "last_year": LAST_YEAR,
                "holidays": LEGACY_HOLIDAYS,
            }
        return data

    @field_validator("holidays", mode="before")
    @classmethod
    def _from_compact(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        days, year = [], None
        for token in value.split():
            if len(token) == 10:  # YYYY-MM-DD opens a year
                days.append(date.fromisoformat(token))
                year = days[-1].year
            elif year is not None and len(token) == 5:  # MM-DD within it
                days.append(date.fromisoformat(f"{year:04d}-{token}"))
            else:
                raise ValueError(f"'{token[:12]}' is not YYYY-MM-DD or MM-DD after one")
        return tuple(days)

    @field_serializer("holidays", when_used="json")
    def _to_compact(self, holidays: tuple[date, ...]) -> str:
        tokens, year = [], None
        for day in sorted(holidays):
            tokens.append(day.isoformat() if day.year != year else f"{day:%m-%d}")
            year = day.year
        return " ".join(tokens)

    def model_post_init(self, context: Any) -> None:
        self._days = frozenset(self.holidays)

    @model_serializer(mode="wrap")
    def _legacy_as_name(self, handler: Any) -> Any:
        return {"version": LEGACY_VERSION} if self.is_legacy else handler(self)

    @property
    def is_legacy(self) -> bool:
        return self.version == LEGACY_VERSION

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year

    def is_holiday(self, day: date) -> bool:
        return day in self._days


LEGACY_CALENDAR = WorkingCalendar(version=LEGACY_VERSION)
"""What a history recorded without a calendar counted over (see `domain.legacy_calendar`)."""


def calendar_of_case(case: dict[str, Any]) -> WorkingCalendar:
    """The calendar a case (as JSON, from a view) counts over; one recorded without it, the legacy one."""
    carried = case.get("calendar")
    return WorkingCalendar.model_validate(carried) if isinstance(carried, dict) else LEGACY_CALENDAR


def legacy_calendar() -> WorkingCalendar:
    """A field default: the frozen legacy calendar."""
    return LEGACY_CALENDAR


class CalendarChange(BaseModel):
    """What a running escalation is told when ops install a calendar: the new dates, and only the
    holidays that changed (with their titles, for the audit trail and the email), so it stays small."""

    calendar: WorkingCalendar
    added: list[BankHoliday] = Field(default_factory=list, max_length=400)
    removed: list[BankHoliday] = Field(default_factory=list, max_length=400)
    by: str = Field(default="ops", max_length=320)

    def changed_between(self, after: date, until: date) -> list[BankHoliday]:
        """The holidays added or withdrawn in (`after`, `until`]: why a deadline in that window moved."""
        changed = [*self.added, *self.removed]
        return [h for h in sorted(changed, key=lambda h: h.day) if after < h.day <= until]
