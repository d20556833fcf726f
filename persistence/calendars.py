"""Versions of the bank-holiday calendar, newest last. Loading a file or adding an announced holiday
installs a new version (never edits an old one) and records who, when and what changed in the
security and operations log. Until ops install one, the calendar shipped in the repository is current."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import JSON, Column, Field, Session, SQLModel, col, select

from domain.calendar import Calendar, from_govuk
from domain.calendar_losses import refuse_losses_beyond_a_correction
from persistence.security_log import SecurityLog

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "bank-holidays.json"


class CalendarVersion(SQLModel, table=True):
    __tablename__ = "bank_holiday_calendar"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(index=True, max_length=40)
    installed_at: datetime
    installed_by: str = Field(max_length=320)
    calendar: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


def shipped_calendar() -> Calendar:
    return from_govuk(json.loads(SHIPPED.read_text(encoding="utf-8")))


class Calendars:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._log = SecurityLog(engine)

    def current(self) -> Calendar:
        with Session(self._engine) as session:
            newest = session.exec(select(CalendarVersion).order_by(col(CalendarVersion.id).desc()).limit(1)).first()
        return Calendar.model_validate(newest.calendar) if newest is not None else shipped_calendar()

    def install(self, calendar: Calendar, by: str, now: datetime, source: str) -> tuple[Calendar, bool]:
        """Make `calendar` current; (calendar, False) if it is the current one already."""
        before = self.current()
        if calendar.version == before.version:
            return calendar, False
        added, removed = calendar.changes_from(before)
        with Session(self._engine) as session:
            session.add(
                CalendarVersion(
                    version=calendar.version,
                    installed_at=now,
                    installed_by=by,
                    calendar=calendar.model_dump(mode="json"),
                )
            )
            session.commit()
        self._log.record(
            "calendar_changed",
            now,
            by=by,
            source=source,
            version=calendar.version,
            previous=before.version,
            added=[f"{h.day.isoformat()} {h.title}" for h in added],
            removed=[f"{h.day.isoformat()} {h.title}" for h in removed],
        )
        return calendar, True

    def load_file(self, path: Path, by: str, now: datetime) -> tuple[Calendar, bool]:
        """Install gov.uk's file at `path`; one that would take more than a moved holiday from a year ahead is
        refused, as `service.calendar_admin` refuses it."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"file: cannot read {path} as gov.uk's bank-holidays.json ({err})") from err
        _, after = self.updated_by(from_govuk(data), now)
        return self.install(after, by, now, source=f"file {path.name}")

    def updated_by(self, published: Calendar, now: datetime) -> tuple[Calendar, Calendar]:
        """The installed calendar and what `published` (gov.uk's file) would make it, not yet installed; a file
        that would take more than a moved holiday from a year ahead is refused (`domain.calendar_losses`)."""
        before = self.current()
        after = before.updated_by(published)
        refuse_losses_beyond_a_correction(before, after, now.year)
        return before, after

    def add_holiday(self, day: date, title: str, by: str, now: datetime) -> Calendar:
        calendar, _ = self.install(self.current().with_holiday(day, title), by, now, source="announced holiday")
        return calendar
