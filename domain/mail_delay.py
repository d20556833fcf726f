"""The rule for a deadline whose request email was delayed (the mail server down for hours):

A deadline is counted from the day the request is made, and the email that asks for it says that date.
If the email only goes out on a later day, the deadline moves on by the working days it waited, so the
recipient always has the full allowance counted from the day the email was actually sent, and never
less time than the date written in it. The move is audited (`deadline_moved_for_mail_delay`). A delay
within the same London day changes nothing (deadlines count whole working days); an email held for ops
(it may not have arrived) moves nothing either: its deadlines keep running and ops are told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.calendar import WorkingCalendar
from domain.contacts import Role
from domain.escalation import AuditEffect, EscalationCase
from domain.formatting import counted
from domain.working_days import add_working_days, describe_deadline, is_working_day, london_date

MOVED_EVENT = "deadline_moved_for_mail_delay"


def working_days_waited(calendar: WorkingCalendar, requested_at: datetime, sent_at: datetime) -> int:
    """Working days after the request's London date, up to and including the sending's."""
    day, last = london_date(requested_at), london_date(sent_at)
    waited = 0
    while day < last:
        day += timedelta(days=1)
        waited += is_working_day(calendar, day)
    return waited


def allow_for_mail_delay(
    case: EscalationCase, to_role: Role, requested_at: datetime, sent_at: datetime
) -> list[AuditEffect]:
    """Move the deadline of the wait on the email's recipient by the working days its email waited."""
    wait = case.wait
    waited = working_days_waited(case.calendar, requested_at, sent_at)
    if wait is None or wait.deadline is None or wait.holder is not to_role or waited == 0:
        return []
    was = wait.deadline
    wait.deadline = add_working_days(case.calendar, was, waited)
    detail = {
        "wait": wait.purpose,
        "deadline_was": was.isoformat(),
        "deadline": wait.deadline.isoformat(),
        "working_days_waited": waited,
        "reason": f"the email went out {counted(waited, 'working day')} late; now due {describe_deadline(wait.deadline)}",
    }
    return [AuditEffect(event=MOVED_EVENT, actor="engine", detail=detail)]
