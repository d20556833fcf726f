"""Working-day deadlines: Monday to Friday except England and Wales bank holidays.

A deadline of N working days falls at 17:00 Europe/London on the Nth working day after
the day the request was sent (DOMAIN.md). Pure functions of their arguments, the calendar
included: workflow code passes the calendar its escalation carries in its history (never one
read at import or from the database), so replay gives the same answer whatever is installed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # named in annotations only: `starter.py list` reads LONDON without building the calendar models
    from domain.calendar import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
DEADLINE_TIME = time(17, 0)


def is_working_day(calendar: WorkingCalendar, day: date) -> bool:
    if not calendar.covers(day):
        raise ValueError(f"no bank-holiday calendar for {day.year}")
    return day.weekday() < 5 and not calendar.is_holiday(day)


def london_date(instant: datetime) -> date:
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(LONDON).date()


def at_close_of_day(day: date) -> datetime:
    """17:00 London time on `day`, as an aware datetime (BST or GMT as the date has it)."""
    return datetime.combine(day, DEADLINE_TIME, tzinfo=LONDON)


def add_working_days(calendar: WorkingCalendar, sent: datetime, days: int) -> datetime:
    """The deadline `days` working days after the London date on which `sent` falls."""
    if days < 1:
        raise ValueError("a deadline is at least one working day")
    day = london_date(sent)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(calendar, day):
            counted += 1
    return at_close_of_day(day)


def working_days_left(calendar: WorkingCalendar, now: datetime, deadline: datetime) -> int:
    """Working days from today (exclusive) to the deadline's date (inclusive); 0 once past."""
    if now >= deadline:
        return 0
    day, end = london_date(now), london_date(deadline)
    left = 0
    while day < end:
        day += timedelta(days=1)
        if is_working_day(calendar, day):
            left += 1
    return left


def describe_deadline(deadline: datetime) -> str:
    """'Wednesday 30 December 2026, 5pm' in London time, for emails and pages (domain/formatting.py)."""
    from domain.formatting import moment  # formatting builds on this module

    return moment(deadline)


def morning_of_working_days_before(calendar: WorkingCalendar, deadline: datetime, days: int) -> datetime:
    """09:00 London on the working day `days` working days before the deadline's date (0: that day)."""
    day = london_date(deadline)
    counted = 0
    while counted < days:
        day -= timedelta(days=1)
        if is_working_day(calendar, day):
            counted += 1
    return datetime.combine(day, time(9, 0), tzinfo=LONDON)


def describe_date(day: date) -> str:
    """'28 December 2026', for messages."""
    return f"{day.day} {day:%B %Y}"


def describe_day(day: date) -> str:
    """'Tuesday 29 December 2026', for messages that offer a day."""
    return f"{day:%A} {describe_date(day)}"


def next_working_day(calendar: WorkingCalendar, day: date) -> date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not is_working_day(calendar, day):
        day += timedelta(days=1)
    return day


def after_today(day: date, today: date, why: str) -> str | None:
    """Why `day` cannot be a date something happened on, when it is after `today`; None if it can be. `why` says
    what the date is of: 'a claim is for work already done'."""
    if day <= today:
        return None
    return f"{describe_date(day)} is after today ({describe_date(today)}): {why}"


def beyond_calendar(calendar: WorkingCalendar, day: date) -> str | None:
    """Why `day` cannot be a date of any escalation, or None: outside the years the bank-holiday calendar knows (a
    slip of the century or the year: '0001-01-01', 1900, 2035 for 2025)."""
    if calendar.covers(day):
        return None
    first, last = calendar.first_year, calendar.last_year
    return f"{describe_date(day)} is outside the years the engine knows ({first} to {last})"


EARLIEST_YEAR = 2000


def before_any_record(day: date) -> str | None:
    """Why `day` cannot be a date work was done on, or None: before 2000, and so a slip of the year ('0001-01-01'
    emailed as '1 January 1'). Past dates need no calendar, so this is not `beyond_calendar`."""
    if day.year >= EARLIEST_YEAR:
        return None
    return f"{describe_date(day)} is before {EARLIEST_YEAR}: check the year"


def past_date_problem(day: date, today: date, why: str) -> str | None:
    """Why `day` cannot be a date something already happened on: after today (`after_today`, with `why`), or
    before any record (`before_any_record`); None if it can be."""
    return after_today(day, today, why) or before_any_record(day)


def working_day_problem(calendar: WorkingCalendar, day: date, today: date | None = None) -> str | None:
    """Why `day` cannot be a payment date or a deadline someone sets, or None if it can.

    It must be a working day (not a weekend or an England and Wales bank holiday) and, when
    `today` is known, not before it. A refusal offers the day that would be taken instead:
    '28 December 2026 is a bank holiday; the next working day is Tuesday 29 December 2026'."""
    if today is not None and day < today and calendar.covers(today):  # long past: past, not "outside the calendar"
        return f"{describe_date(day)} is in the past; the earliest working day is {describe_day(next_working_day(calendar, today))}"
    if day.year > calendar.last_year:
        return (
            f"{describe_date(day)} is further ahead than the bank holidays are known (to the end of "
            f"{calendar.last_year}); choose an earlier date"
        )
    if not calendar.covers(day) or (today is not None and not calendar.covers(today)):
        first, last = calendar.first_year, calendar.last_year
        return f"{describe_date(day)} is outside the bank-holiday calendar ({first} to {last})"
    why = not_working_because(calendar, day)
    if why is None:
        return None
    return f"{describe_date(day)} is {why}; the next working day is {describe_day(next_working_day(calendar, day))}"


def date_set_problem(calendar: WorkingCalendar, day: date, today: date | None, what: str) -> str | None:
    """`working_day_problem` said of `what` ('a return deadline'): the one wording for a date someone sets."""
    problem = working_day_problem(calendar, day, today)
    return None if problem is None else f"{what} must be a working day, not in the past; {problem}"


def not_working_because(calendar: WorkingCalendar, day: date) -> str | None:
    """Why `day` is not a working day, as a refusal says it ('a Saturday', 'a bank holiday'); None if it is one."""
    if is_working_day(calendar, day):
        return None
    return f"a {day:%A}" if day.weekday() >= 5 else "a bank holiday"


def moved_deadline(old: WorkingCalendar, new: WorkingCalendar, deadline: datetime, now: datetime) -> datetime:
    """Where a working-day deadline falls under `new` when it was counted under `old`: the same number
    of working days after today (so a holiday announced inside the window moves it on by a day, and
    one withdrawn brings it back). A deadline that has passed, or that `old` did not put on a working
    day (a date someone gave), stays where it is."""
    if now >= deadline or not is_working_day(old, london_date(deadline)):
        return deadline
    today = london_date(now)
    left = working_days_left(old, now, deadline)
    if left == 0:  # due today: it moves only if today has become a holiday
        return at_close_of_day(next_working_day(new, today))
    day, counted = today, 0
    while counted < left:
        day += timedelta(days=1)
        if is_working_day(new, day):
            counted += 1
    return at_close_of_day(day)
