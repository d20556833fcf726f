"""Whether mail is delayed, for the officer's dashboard: emails whose sends are failing for now (the mail
server down or refusing for now) and being retried with backoff, read from the sent-mail ledger.

They go out by themselves when the server answers, each once (`mail/delivery.py`); a deadline an email
carries moves on if it goes out on a later day than it was written (`domain/mail_delay.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from domain.working_days import LONDON, describe_day
from persistence.sent_mail import SentMailLedger


@dataclass(frozen=True)
class MailDelay:
    emails: int
    escalations: int
    since: datetime
    problem: str

    def headline(self) -> str:
        waiting = "1 email is" if self.emails == 1 else f"{self.emails} emails are"
        about = "1 escalation" if self.escalations == 1 else f"{self.escalations} escalations"
        local = self.since.astimezone(LONDON)
        when = f"{local:%-I:%M}{local:%p}".lower() + f" on {describe_day(local.date())}"
        return f"Email is delayed: {waiting} waiting for the mail server ({about}), since {when}: {self.problem}."

    def next_step(self) -> str:
        return (
            "They go out by themselves as soon as it answers, each exactly once; nothing needs sending again. "
            "A deadline in an email that goes out on a later day moves on by the working days it waited."
        )


def mail_delay(ledger: SentMailLedger, now: datetime | None = None) -> MailDelay | None:
    """The delay now, or None when no email is waiting on the mail server."""
    waiting = ledger.waiting(now)
    if not waiting:
        return None
    first = min(w.first_failed_at for w in waiting)
    latest = max(waiting, key=lambda w: w.last_failed_at)
    return MailDelay(
        emails=len(waiting),
        escalations=len({w.escalation_id for w in waiting}),
        since=first if first.tzinfo is not None else first.replace(tzinfo=UTC),  # SQLite gives it back naive
        problem=latest.problem,
    )
