"""Dates and money as people write them (domain/formatting.py, through babel)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain import formatting
from domain.calendar import LEGACY_CALENDAR
from domain.money import parse_pounds
from tests.domain.builders import five_pm, london


def test_the_examples_people_write() -> None:
    assert formatting.money(283_700) == "£2,837.00" and formatting.money(5) == "£0.05"
    assert formatting.moment(five_pm(2025, 12, 5)) == "Friday 5 December 2025, 5pm"
    assert formatting.moment(london(2026, 3, 2, 9, 30)) == "Monday 2 March 2026, 9:30am"
    assert formatting.moment(london(2026, 3, 2, 12)) == "Monday 2 March 2026, midday"
    assert formatting.moment(datetime(2026, 7, 1, 16, tzinfo=UTC)) == "Wednesday 1 July 2026, 5pm"  # BST
    assert formatting.deadline(five_pm(2025, 12, 5), london(2025, 12, 2), LEGACY_CALENDAR) == (
        "Friday 5 December 2025, 5pm (3 working days left)"
    )
    assert formatting.days_left(london(2025, 12, 5), five_pm(2025, 12, 5), LEGACY_CALENDAR) == "due today"
    assert formatting.days_left(five_pm(2025, 12, 5), five_pm(2025, 12, 5), LEGACY_CALENDAR) == "now overdue"
    assert formatting.listing(["a", "b", "c"], "or") == "a, b or c"


@given(st.integers(min_value=0, max_value=10**12))
def test_money_is_exact_and_reads_back_to_the_same_pence(pence: int) -> None:
    written = formatting.money(pence)
    assert re.fullmatch(r"£\d{1,3}(,\d{3})*\.\d{2}", written) and parse_pounds(written) == pence


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2074, 12, 31)), st.integers(0, 1439))
def test_a_moment_is_words_never_an_iso_timestamp(day: datetime, minutes: int) -> None:
    instant = london(day.year, day.month, day.day) + timedelta(minutes=minutes - 600)
    written = formatting.moment(instant)
    assert not re.search(r"\d{4}-\d{2}|\d{2}:\d{2}:\d{2}|T\d", written)
    assert re.fullmatch(r"[A-Z][a-z]+day \d{1,2} [A-Z][a-z]+ \d{4}, (\d{1,2}(:\d{2})?[ap]m|midday)", written), written
    assert formatting.short_day(date(day.year, day.month, day.day)) in formatting.day(
        date(day.year, day.month, day.day)
    )


def test_a_count_of_things_reads_as_a_person_writes_it() -> None:
    assert formatting.counted(1, "practice") == "1 practice"
    assert formatting.counted(6, "practice") == "6 practices"
    assert formatting.counted(0, "escalation") == "0 escalations"
    assert formatting.counted(1250, "standing link") == "1,250 standing links"
    assert formatting.counted(2, "working day") == "2 working days"
