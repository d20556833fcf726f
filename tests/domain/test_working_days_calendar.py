"""Working-day arithmetic over an explicit calendar (issue #18), for any calendar: a deadline lands at 17:00
London on a working day with exactly N working days before it; a holiday added inside the window moves it on
by one working day, one outside leaves it; recomputing a running deadline agrees with counting afresh, and
withdrawing the holiday brings it back. Plus: the frozen legacy calendar is what the `holidays` package
gave, and travels by its name alone. And a calendar file that would take more than a moved holiday from a
year ahead is refused naming what would go; a moved one, an added one or gov.uk's whole file is taken."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import (
    LEGACY_CALENDAR,
    BankHoliday,
    Calendar,
    CalendarChange,
    WorkingCalendar,
    calendar_of_case,
    from_govuk,
)
from domain.calendar_losses import refuse_losses_beyond_a_correction
from domain.contacts import Role
from domain.formatting import day
from domain.legacy_calendar import LEGACY_VERSION
from domain.pathology import PathologyCase
from domain.responses import ResponseInput
from domain.working_days import (
    LONDON,
    add_working_days,
    at_close_of_day,
    is_working_day,
    london_date,
    morning_of_working_days_before,
    moved_deadline,
    next_working_day,
    working_days_left,
)
from tests.domain.builders import ROOT, audit_entries, audits, emails, five_pm, london, open_claim, open_pathology

days_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 6, 30))
calendars = st.sets(days_2026, max_size=40).map(
    lambda days: WorkingCalendar(version="test", first_year=2025, last_year=2028, holidays=tuple(sorted(days)))
)
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))
allowances = st.integers(min_value=1, max_value=40)


def plus(calendar: WorkingCalendar, day: date) -> WorkingCalendar:
    return WorkingCalendar(
        version="test+1", first_year=2025, last_year=2028, holidays=tuple(sorted({*calendar.holidays, day}))
    )


@given(calendars, instants, allowances)
def test_a_deadline_is_five_pm_on_a_working_day_n_working_days_on(
    calendar: WorkingCalendar, sent: datetime, days: int
) -> None:
    deadline = add_working_days(calendar, sent, days)
    local = deadline.astimezone(LONDON)
    assert (local.hour, local.minute) == (17, 0) and is_working_day(calendar, local.date())
    assert working_days_left(calendar, sent, deadline) == days
    assert morning_of_working_days_before(calendar, deadline, 0).date() == local.date()
    first = next_working_day(calendar, london_date(sent) + timedelta(days=1))
    assert morning_of_working_days_before(calendar, deadline, days - 1).date() == first


@given(calendars, instants, allowances, days_2026)
def test_a_holiday_inside_the_window_moves_the_deadline_one_working_day_and_outside_leaves_it(
    calendar: WorkingCalendar, sent: datetime, days: int, holiday: date
) -> None:
    before = add_working_days(calendar, sent, days)
    with_holiday = plus(calendar, holiday)
    after = add_working_days(with_holiday, sent, days)
    inside = london_date(sent) < holiday <= london_date(before) and is_working_day(calendar, holiday)
    if inside:
        assert after == at_close_of_day(next_working_day(with_holiday, london_date(before) + timedelta(days=1)))
    else:
        assert after == before
    # A running escalation told of it at the moment it was sent recomputes to the same deadline as counting afresh,
    # and the holiday withdrawn brings the deadline back.
    assert moved_deadline(calendar, with_holiday, before, sent) == after
    assert moved_deadline(with_holiday, calendar, after, sent) == before


@given(calendars, instants, allowances, days_2026, st.integers(min_value=0, max_value=60))
def test_a_deadline_that_has_passed_never_moves(
    calendar: WorkingCalendar, sent: datetime, days: int, holiday: date, later: int
) -> None:
    deadline = add_working_days(calendar, sent, days)
    now = deadline + timedelta(hours=later)
    assert moved_deadline(calendar, plus(calendar, holiday), deadline, now) == deadline


@given(calendars)
def test_a_calendar_travels_compactly_and_reads_back_the_same(calendar: WorkingCalendar) -> None:
    wire = calendar.model_dump_json()
    assert WorkingCalendar.model_validate_json(wire) == calendar
    assert len(wire) <= 120 + 6 * len(calendar.holidays) + 5 * (calendar.last_year - calendar.first_year + 1)


def test_the_legacy_calendar_is_the_holidays_package_frozen_and_travels_by_name() -> None:
    package = holidays.country_holidays("GB", subdiv="ENG", years=range(2000, 2076), language="en_GB")
    assert set(LEGACY_CALENDAR.holidays) == set(package.keys())
    assert LEGACY_CALENDAR.model_dump(mode="json") == {"version": LEGACY_VERSION}
    assert WorkingCalendar.model_validate({"version": LEGACY_VERSION}) == LEGACY_CALENDAR
    assert calendar_of_case({"kind": "unfunded_claim"}) == LEGACY_CALENDAR, "a case recorded without one"
    dated = WorkingCalendar(version="ew-x", first_year=2026, last_year=2027, holidays=(date(2026, 12, 25),))
    assert WorkingCalendar.model_validate(dated.model_dump(mode="json")) == dated


# --- a running case told of a new calendar (EscalationCase.adopt_calendar), without Temporal ----------------
SENT = london(2026, 11, 23)  # Monday: acknowledgement due 17:00 Thursday 26 November 2026
ANNOUNCED = BankHoliday(day=date(2026, 11, 25), title="Bank holiday for a national occasion")


def told_of(calendar: WorkingCalendar, *added: BankHoliday) -> CalendarChange:
    days = tuple(sorted({*calendar.holidays, *(h.day for h in added)}))
    newer = WorkingCalendar(
        version="ew-newer", first_year=calendar.first_year, last_year=calendar.last_year, holidays=days
    )
    return CalendarChange(calendar=newer, added=list(added), by="ops@lmc.example")


def test_a_holiday_in_the_window_moves_the_deadline_audits_why_and_tells_whoever_had_the_old_date() -> None:
    case, effects = open_claim(SENT)
    [request] = emails(effects)
    assert case.wait is not None and case.wait.deadline == five_pm(2026, 11, 26)
    message, moved = case.adopt_calendar(told_of(case.calendar, ANNOUNCED), london(2026, 11, 24), request)
    assert case.wait.deadline == five_pm(2026, 11, 27) and "deadline moved" in message
    [(event, actor, detail)] = audit_entries(moved)
    assert (event, actor) == ("deadline_moved", "ops@lmc.example")
    assert detail["why"] == "2026-11-25 Bank holiday for a national occasion added as a bank holiday"
    [email] = emails(moved)
    assert email.to == request.to and email.cc == request.cc and email.actions == request.actions
    assert "Friday 27 November 2026" in email.subject and ANNOUNCED.title in " ".join(email.paragraphs)
    # Told again of the same calendar: nothing more.
    assert case.adopt_calendar(told_of(case.calendar), london(2026, 11, 24), request)[1] == []


def test_nothing_moves_outside_the_window_after_the_deadline_or_for_a_date_someone_gave() -> None:
    case, effects = open_claim(SENT)
    later = BankHoliday(day=date(2026, 12, 2), title="After the deadline")
    assert case.adopt_calendar(told_of(case.calendar, later), london(2026, 11, 24), None)[1] == []
    assert case.wait is not None and case.wait.deadline == five_pm(2026, 11, 26) and case.calendar.version == "ew-newer"

    passed, _ = open_claim(SENT)
    assert passed.adopt_calendar(told_of(passed.calendar, ANNOUNCED), london(2026, 11, 27), None)[1] == []
    assert passed.wait is not None and passed.wait.deadline == five_pm(2026, 11, 26), "a passed deadline stays"

    paying, _ = open_claim(SENT)
    paying.wait_until_date("payment", Role.PAYER, five_pm(2026, 11, 27))
    assert paying.adopt_calendar(told_of(paying.calendar, ANNOUNCED), london(2026, 11, 24), None)[1] == []
    assert paying.wait is not None and paying.wait.deadline == five_pm(2026, 11, 27), "the payer's own date stands"

    unemailed, effects = open_claim(SENT)
    _, moved = unemailed.adopt_calendar(told_of(unemailed.calendar, ANNOUNCED), london(2026, 11, 24), None)
    assert audits(moved) == ["deadline_moved"] and emails(moved) == [], "no one was given the old date"


def test_a_newer_govuk_file_replaces_the_years_it_lists_and_keeps_the_rest() -> None:
    shipped = from_govuk(json.loads((ROOT / "config" / "bank-holidays.json").read_text()))
    published = from_govuk(
        {
            "england-and-wales": {
                "events": [{"title": "New Year's Day", "date": "2027-01-01"}, {"title": "Extra", "date": "2027-06-07"}]
            }
        }
    )
    merged = shipped.updated_by(published)
    assert (merged.first_year, merged.last_year) == (shipped.first_year, shipped.last_year)
    assert [h.day for h in merged.holidays if h.day.year == 2027] == [date(2027, 1, 1), date(2027, 6, 7)]
    assert [h for h in merged.holidays if h.day.year != 2027] == [h for h in shipped.holidays if h.day.year != 2027]


# --- a file that would take installed holidays away (domain.calendar_losses) --------------------------------
SHIPPED = from_govuk(json.loads((ROOT / "config" / "bank-holidays.json").read_text()))
THIS_YEAR = 2026


def govuk_file(holidays: list[BankHoliday]) -> Calendar:
    """A calendar read from a gov.uk-shaped file listing `holidays`, as the loader reads one."""
    events = [{"title": h.title, "date": h.day.isoformat()} for h in holidays]
    return from_govuk({"england-and-wales": {"division": "england-and-wales", "events": events}})


def shipped_in(*years: int) -> list[BankHoliday]:
    return [h for h in SHIPPED.holidays if h.day.year in years]


def refusal(loaded: Calendar) -> str:
    with pytest.raises(ValueError) as refused:
        refuse_losses_beyond_a_correction(SHIPPED, SHIPPED.updated_by(loaded), THIS_YEAR)
    return str(refused.value)


def test_a_one_event_file_is_refused_naming_the_year_and_every_holiday_it_would_take() -> None:
    message = refusal(govuk_file([BankHoliday(day=date(2027, 2, 1), title="X")]))
    assert message.startswith("file: this would take away 8 bank holidays in 2027; a holiday gov.uk moves")
    assert message.index("https://www.gov.uk/bank-holidays.json") < 300, "what to do, before a terminal cuts it"
    assert "In 2027 all 8 would go: New Year's Day on Friday 1 January 2027, Good Friday on" in message
    assert message.endswith("Christmas Day on Monday 27 December 2027 and Boxing Day on Tuesday 28 December 2027.")
    assert "Saturday" not in message, "a weekend date counts no working day: gov.uk lists its substitute"
    assert not re.search(r"\d{4}-\d\d-\d\d", message), "dates as people write them"


def test_two_holidays_gone_from_one_year_are_refused_and_later_years_are_summed_up() -> None:
    two_gone = [h for h in shipped_in(2028) if h.day not in {date(2028, 4, 14), date(2028, 4, 17)}]
    message = refusal(govuk_file(two_gone))
    easter = "Good Friday on Friday 14 April 2028 and Easter Monday on Monday 17 April 2028"
    assert message.startswith("file: this would take away 2 bank holidays in 2028;")
    assert message.endswith(f"In 2028 2 of its 8 would go: {easter}.")
    one_each = govuk_file([BankHoliday(day=date(year, 2, 1), title="X") for year in range(2027, 2033)])
    message = refusal(one_each)
    assert message.startswith("file: this would take away 48 bank holidays in 6 years, 2027 to 2032;")
    assert "In 2027 all 8 would go" in message and "In 2029 all 8 would go" in message and "In 2030" not in message
    assert message.endswith("And 24 more in 2030, 2031 and 2032.")


def test_a_moved_holiday_or_an_added_one_is_taken_as_a_correction() -> None:
    # As for the Jubilee in 2022: the spring bank holiday moved to a Thursday, and the Friday added.
    moved = [h for h in shipped_in(2027) if h.day != date(2027, 5, 31)]
    moved += [
        BankHoliday(day=date(2027, 6, 3), title="Spring bank holiday"),
        BankHoliday(day=date(2027, 6, 4), title="Jubilee"),
    ]
    merged = SHIPPED.updated_by(govuk_file(sorted(moved, key=lambda h: h.day)))
    refuse_losses_beyond_a_correction(SHIPPED, merged, THIS_YEAR)
    assert date(2027, 5, 31) not in merged.days and {date(2027, 6, 3), date(2027, 6, 4)} <= merged.days


def test_govuks_file_as_published_is_taken_though_it_lists_no_weekend_dates() -> None:
    published = govuk_file([h for h in SHIPPED.holidays if 2019 <= h.day.year <= 2028 and h.day.weekday() < 5])
    merged = SHIPPED.updated_by(published)
    refuse_losses_beyond_a_correction(SHIPPED, merged, THIS_YEAR)
    assert date(2027, 12, 25) not in merged.days and date(2027, 12, 27) in merged.days


def test_past_years_a_file_lists_are_replaced_and_those_it_lacks_are_kept() -> None:
    """As loading has always done: a past holiday no longer moves a running deadline, so it is not guarded."""
    merged = SHIPPED.updated_by(govuk_file([BankHoliday(day=date(2025, 2, 3), title="X")]))
    refuse_losses_beyond_a_correction(SHIPPED, merged, THIS_YEAR)
    assert [h.day for h in merged.holidays if h.day.year == 2025] == [date(2025, 2, 3)]
    assert [h for h in merged.holidays if h.day.year != 2025] == [h for h in SHIPPED.holidays if h.day.year != 2025]


@st.composite
def edited_files(draw: st.DrawFn, too_many_gone: bool) -> tuple[int, Calendar, int, list[BankHoliday]]:
    """(this year, a file of the shipped holidays for a few years with weekday ones taken out and dates added,
    a year from this one on and the holidays taken from it). At most one is taken from each year ahead, any
    number from a year past; from the year drawn, two or more if `too_many_gone`."""
    first = draw(st.integers(min_value=2015, max_value=2035))
    last = draw(st.integers(min_value=first, max_value=min(first + 8, 2035)))
    this_year = draw(st.integers(min_value=2015, max_value=last))
    chosen = draw(st.integers(min_value=max(first, this_year), max_value=last))
    events, gone = [], {}
    for year in range(first, last + 1):
        weekdays = [h for h in shipped_in(year) if h.day.weekday() < 5]
        fewest = 2 if too_many_gone and year == chosen else 0
        most = len(weekdays) if year < this_year or fewest else 1
        gone[year] = draw(
            st.lists(st.sampled_from(weekdays), unique_by=lambda h: h.day, min_size=fewest, max_size=most)
        )
        kept = [h for h in shipped_in(year) if h not in gone[year]]
        new_days = st.dates(date(year, 1, 1), date(year, 12, 31)).filter(lambda d: d not in SHIPPED.days)
        added = draw(st.sets(new_days, min_size=0 if kept else 1, max_size=3))
        events += kept + [BankHoliday(day=d, title="Added") for d in added]
    return this_year, govuk_file(sorted(events, key=lambda h: h.day)), chosen, gone[chosen]


@given(edited_files(too_many_gone=False))
def test_a_file_that_takes_at_most_one_holiday_a_year_ahead_is_taken(
    edited: tuple[int, Calendar, int, list[BankHoliday]],
) -> None:
    this_year, loaded, _, _ = edited
    merged = SHIPPED.updated_by(loaded)
    refuse_losses_beyond_a_correction(SHIPPED, merged, this_year)
    assert loaded.days <= merged.days


@given(edited_files(too_many_gone=True))
def test_a_file_that_takes_two_or_more_holidays_from_a_year_ahead_is_refused_naming_them(
    edited: tuple[int, Calendar, int, list[BankHoliday]],
) -> None:
    this_year, loaded, year, gone = edited
    with pytest.raises(ValueError) as refused:
        refuse_losses_beyond_a_correction(SHIPPED, SHIPPED.updated_by(loaded), this_year)
    message = str(refused.value)
    assert f"in {year};" in message and message.count(" would go: ") == 1, "only that year is more than a correction"
    assert all(f"{h.title} on {day(h.day)}" in message for h in gone)


def test_a_return_date_the_officer_gave_stays_put_when_a_holiday_is_announced_before_it() -> None:
    case, _ = open_pathology(SENT)
    case.apply(officer_acts(case, "extend_returns", on_date=date(2026, 12, 22)), london(2026, 11, 24))
    assert case.returns_deadline == five_pm(2026, 12, 22)
    inside = BankHoliday(day=date(2026, 12, 17), title="Bank holiday for a national occasion")
    _, effects = case.adopt_calendar(told_of(case.calendar, inside), london(2026, 11, 25), None)
    assert case.returns_deadline == five_pm(2026, 12, 22)  # a date given, not counted: nobody is told otherwise
    assert "deadline_moved" not in audits(effects)


def officer_acts(case: PathologyCase, action: str, **fields: object) -> ResponseInput:
    return ResponseInput.model_validate(
        {"action": action, "actor_email": case.officer.email, "actor_role": Role.OFFICER, **fields}
    )


def test_an_event_that_is_not_a_holiday_is_named_by_its_place_title_and_the_files_own_key() -> None:
    from domain.calendar import from_govuk

    events = [{"title": "New Year's Day", "date": "2027-01-01"}, {"title": "Spring", "date": "2027-13-01"}]
    with pytest.raises(ValueError) as refused:
        from_govuk({"england-and-wales": {"division": "england-and-wales", "events": events}})
    assert str(refused.value) == (
        "file: event 2 ('Spring') is not a bank holiday gov.uk would list: date must be a date (YYYY-MM-DD)"
    )
