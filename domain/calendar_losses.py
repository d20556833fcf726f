"""Which bank holidays a calendar file would take away, and when that is refused. A one-event file once
replaced a whole year's holidays and had every running escalation re-count its deadlines. gov.uk does move a
holiday now and then (2020's early May one for VE Day, 2022's spring one for the Jubilee), so one installed
holiday gone from a year is taken as such a correction; two or more gone from a year, or all of a year's, is
refused. Only weekdays from this year on count: a past holiday no longer moves a running deadline, and a weekend
one never did (gov.uk's file lists only the substitute weekday where the shipped calendar also has the weekend date)."""

from __future__ import annotations

from collections import Counter

from domain.calendar import BankHoliday, Calendar
from domain.formatting import count, counted, day, listing

YEARS_SPELT_OUT = 3  # a refusal names every year it would take holidays from, and each holiday in the first few


def holidays_lost(installed: Calendar, loaded: Calendar, this_year: int) -> dict[int, list[BankHoliday]]:
    """The installed weekday holidays from `this_year` on that `loaded` lacks, by year, earliest first."""
    _, removed = loaded.changes_from(installed)
    lost: dict[int, list[BankHoliday]] = {}
    for holiday in sorted(removed, key=lambda h: h.day):
        if holiday.day.year >= this_year and _on_a_weekday(holiday):
            lost.setdefault(holiday.day.year, []).append(holiday)
    return lost


def losses_beyond_a_correction(installed: Calendar, loaded: Calendar, this_year: int) -> dict[int, list[BankHoliday]]:
    """The years `loaded` would take two or more installed holidays from, or all of them: more than one moved."""
    installed_per_year = _weekday_holidays_per_year(installed)
    return {
        year: gone
        for year, gone in holidays_lost(installed, loaded, this_year).items()
        if len(gone) >= 2 or len(gone) == installed_per_year[year]
    }


def refuse_losses_beyond_a_correction(installed: Calendar, loaded: Calendar, this_year: int) -> None:
    """Raise ValueError ('file: ...') naming the years and holidays `loaded` would take away, if more than a
    correction would go: so a partial or wrong file changes nothing and tells no escalation anything."""
    losses = losses_beyond_a_correction(installed, loaded, this_year)
    if losses:
        raise ValueError(f"file: {what_would_go(installed, losses)}")


def what_would_go(installed: Calendar, losses: dict[int, list[BankHoliday]]) -> str:
    """The refusal as an ops manager reads it: what would go and what to do instead first (a terminal shows a
    refusal's first 300 characters), then each year's holidays."""
    years = sorted(losses)
    gone = sum(len(losses[year]) for year in years)
    per_year = _weekday_holidays_per_year(installed)
    spelt = [_year_lost(year, losses[year], per_year[year]) for year in years[:YEARS_SPELT_OUT]]
    rest = years[YEARS_SPELT_OUT:]
    if rest:
        more = sum(len(losses[year]) for year in rest)
        spelt.append(f"And {count(more)} more in {listing([str(year) for year in rest])}.")
    return (
        f"this would take away {counted(gone, 'bank holiday')} in {_years(years)}; a holiday gov.uk moves (as for "
        "the Jubilee in 2022) takes away one a year at most, so this looks like part of gov.uk's file or another "
        "file. Load the whole of https://www.gov.uk/bank-holidays.json, or add an announced holiday on its own. "
        + " ".join(spelt)
    )


def _years(years: list[int]) -> str:
    """'2027', '2027 and 2028', or '9 years, 2027 to 2035'."""
    if len(years) <= YEARS_SPELT_OUT:
        return listing([str(year) for year in years])
    return f"{len(years)} years, {years[0]} to {years[-1]}"


def _year_lost(year: int, gone: list[BankHoliday], installed: int) -> str:
    """'In 2027 all 8 would go: New Year's Day on Friday 1 January 2027, ...', or '2 of its 8 would go'."""
    if len(gone) < installed:
        share = f"{len(gone)} of its {installed}"
    else:
        share = "its only one" if installed == 1 else f"all {installed}"
    return f"In {year} {share} would go: {listing([f'{h.title} on {day(h.day)}' for h in gone])}."


def _weekday_holidays_per_year(calendar: Calendar) -> Counter[int]:
    return Counter(h.day.year for h in calendar.holidays if _on_a_weekday(h))


def _on_a_weekday(holiday: BankHoliday) -> bool:
    """Only a weekday holiday changes a count of working days."""
    return holiday.day.weekday() < 5
