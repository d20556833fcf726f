"""The rule for a deadline whose request email was delayed (domain/mail_delay.py): counted from the day the
email actually went, never from the day it was written when that is earlier; a delay within the day, an
email to someone else than the ball's holder, or no deadline at all, moves nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import LEGACY_CALENDAR
from domain.contacts import Role
from domain.mail_delay import MOVED_EVENT, allow_for_mail_delay, working_days_waited
from domain.working_days import LONDON, add_working_days
from tests.domain.builders import london, open_claim

ACKNOWLEDGE_DAYS = 3


def test_a_delay_within_the_day_moves_nothing() -> None:
    asked = london(2026, 11, 25, 9)
    case, _ = open_claim(asked)
    before = case.wait.deadline if case.wait else None
    assert allow_for_mail_delay(case, Role.PAYER, asked, london(2026, 11, 25, 23, 59)) == []
    assert case.wait is not None and case.wait.deadline == before


def test_an_email_that_went_the_next_working_day_moves_the_deadline_one_working_day() -> None:
    asked = london(2026, 11, 27, 23, 30)  # a Friday night: it went on Monday morning
    case, _ = open_claim(asked)
    assert case.wait is not None and case.wait.deadline == add_working_days(
        LEGACY_CALENDAR, asked, ACKNOWLEDGE_DAYS
    )  # Wed 2 Dec
    sent = london(2026, 11, 30, 7)
    [moved] = allow_for_mail_delay(case, Role.PAYER, asked, sent)
    assert moved.event == MOVED_EVENT and moved.detail["working_days_waited"] == 1
    assert case.wait.deadline == add_working_days(LEGACY_CALENDAR, sent, ACKNOWLEDGE_DAYS) == london(2026, 12, 3, 17)


def test_an_email_to_someone_not_holding_the_ball_moves_nothing() -> None:
    asked = london(2026, 11, 25, 9)
    case, _ = open_claim(asked)
    assert allow_for_mail_delay(case, Role.OFFICER, asked, asked + timedelta(days=2)) == []


@given(
    asked=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 1)),
    waited=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_the_deadline_always_counts_from_the_day_the_email_went(asked: datetime, waited: timedelta) -> None:
    asked = asked.replace(tzinfo=LONDON)
    sent = asked + waited
    case, _ = open_claim(asked)
    allow_for_mail_delay(case, Role.PAYER, asked, sent)
    assert case.wait is not None and case.wait.deadline == add_working_days(LEGACY_CALENDAR, sent, ACKNOWLEDGE_DAYS)
    assert working_days_waited(LEGACY_CALENDAR, asked, sent) >= 0
