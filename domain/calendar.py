"""The England and Wales bank-holiday calendar as data, in the shape gov.uk publishes
(`bank-holidays.json`, division `england-and-wales`), with a version, so a calendar can travel into
an escalation's history and a newly announced holiday can be added without a release."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from domain.identifiers import HeaderText

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
    holidays = [BankHoliday(day=e.get("date"), title=e.get("title")) for e in events if isinstance(e, dict)]
    years = [h.day.year for h in holidays]
    return calendar_of(sorted(holidays, key=lambda h: h.day), min(years), max(years))


def to_govuk(calendar: Calendar) -> dict[str, Any]:
    events = [{"title": h.title, "date": h.day.isoformat(), "notes": "", "bunting": True} for h in calendar.holidays]
    return {DIVISION: {"division": DIVISION, "events": events}}
