"""Dates, times and money as people write them (GOV.UK style), through `babel`, for everything
a recipient reads: emails, link pages and the CSV a trust is sent.

"Friday 5 December 2025, 5pm" in London time; "£2,837.00" with the pound sign and thousands
separators. Pure functions of their arguments, so domain rules and workflows may call them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from domain.calendar import WorkingCalendar
from domain.working_days import LONDON, working_days_left

LOCALE = Locale.parse("en_GB")
# Read babel's locale data once, at import, so no workflow task reads files when it formats.
_LOADED = (LOCALE.currency_formats, LOCALE.currency_symbols, LOCALE.number_symbols, LOCALE.decimal_formats)
_LOADED_DATES = (LOCALE.days, LOCALE.months, LOCALE.date_formats)


def money(pence: int) -> str:
    """'£2,837.00' (and '-£5.00'): exact, from integer pence."""
    return format_currency(Decimal(pence) / 100, "GBP", locale=LOCALE)


def pounds(pence: int) -> str:
    """'2837.00': an amount for a spreadsheet cell, without symbol or separators, exact."""
    return f"{Decimal(pence) / 100:.2f}"


def count(number: int) -> str:
    """'1,250': a whole number with thousands separators."""
    return format_decimal(number, locale=LOCALE)


def decimal_number(number: Decimal) -> str:
    """A decimal as people write it: 1.05, 1 (not 1.0500 or 1E+1)."""
    return format(number.normalize(), "f")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """'1 practice', '6 practices', '1,250 escalations': never 'practice(s)'."""
    return f"{count(number)} {noun if number == 1 else plural or noun + 's'}"


def day(when: date) -> str:
    """'Friday 5 December 2025'."""
    return format_date(when, "EEEE d MMMM y", locale=LOCALE)


def short_day(when: date) -> str:
    """'5 December 2025', where the day of the week would clutter (a period, a table cell)."""
    return format_date(when, "d MMMM y", locale=LOCALE)


def time_of_day(instant: datetime) -> str:
    """'5pm', '9:30am', 'midday' (GOV.UK style), in London time."""
    local = instant.astimezone(LONDON)
    if (local.hour, local.minute) == (12, 0):
        return "midday"
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"


def moment(instant: datetime) -> str:
    """'Friday 5 December 2025, 5pm', in London time."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return f"{day(instant.astimezone(LONDON).date())}, {time_of_day(instant)}"


def moment_in_a_row(instant: datetime) -> str:
    """'26 Nov 2026 17:31' in London time, where a row of a table or a list has no room for `moment`; a naive instant
    (as some stores give them back) is read as UTC."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(LONDON).strftime("%-d %b %Y %H:%M")


def days_left(now: datetime, deadline: datetime, calendar: WorkingCalendar) -> str:
    """'3 working days left', '1 working day left', 'due today' or 'now overdue', over `calendar`."""
    if now >= deadline:
        return "now overdue"
    left = working_days_left(calendar, now, deadline)
    if left == 0:
        return "due today"
    return f"{counted(left, 'working day')} left"


def deadline(due: datetime, now: datetime | None = None, calendar: WorkingCalendar | None = None) -> str:
    """'Friday 5 December 2025, 5pm' with, when `now` and the escalation's calendar are known, '(3 working
    days left)'."""
    words = moment(due)
    return words if now is None or calendar is None else f"{words} ({days_left(now, due, calendar)})"


def listing(items: list[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
