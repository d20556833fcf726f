"""A ledger of emails, keyed by Message-ID, that lets each one reach the mail server at most once.

A row is written as `sending` just before the message goes to the server and turns `sent` once
the server accepts it. A `sending` row found by a later attempt means an earlier one stopped
without saying how it ended: the message may or may not have gone, so it turns `held` and waits
for ops, who either send it or confirm it arrived. So does a `sending` row older than any send
lasts, whose process died with no retry to notice. Every change of status is a compare-and-set,
so two workers can never both own one message.

A message that can never go as it is (a header that cannot be written, an address or a message the
server refuses for good) is `held` too, with `held_reason` saying why in plain words; a held row
without a reason is one whose send was cut off and may have arrived. A `sent` row with a reason
reached some recipients but not those the reason names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Engine, Text, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select


class MailStatus(StrEnum):
    SENDING = "sending"  # handed to the server by an attempt that has not yet said how it ended
    SENT = "sent"  # the server accepted it (or ops confirmed it arrived)
    HELD = "held"  # how an attempt ended is unknown; ops decide


class SentEmail(SQLModel, table=True):
    __tablename__ = "sent_email"

    message_id: str = Field(primary_key=True, max_length=255)
    escalation_id: str = Field(index=True, max_length=64)
    purpose: str = Field(max_length=120)
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=500)
    sent_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    raw: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # as the recipient received it
    status: str = Field(default=MailStatus.SENT, max_length=16, index=True)
    claimed_at: datetime | None = None  # when the current send began
    # Why it is held and cannot go as it is (held), or whom it did not reach (sent); None when cut off mid-send.
    held_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WaitingEmail(SQLModel, table=True):
    """An email whose send is failing for now (no connection, a timeout, a 4xx) and being retried with
    backoff: what the dashboard's "mail is delayed" banner reads. The row goes once it is sent or held."""

    __tablename__ = "mail_waiting"

    message_id: str = Field(primary_key=True, max_length=255)
    escalation_id: str = Field(index=True, max_length=64)
    purpose: str = Field(max_length=120)
    first_failed_at: datetime
    last_failed_at: datetime = Field(index=True)
    attempts: int = 1
    problem: str = Field(max_length=200)  # in words, never the server's text (it may quote an address)


# An email still being retried fails again at least this often (the activity's retry policy caps its
# backoff at 10 minutes); one whose last failure is older has gone, or its escalation has stopped.
STILL_RETRYING = timedelta(minutes=25)

# No send holds its claim this long (every SMTP command times out in 30 s): a claim older than
# this belongs to a process that died without a retry to notice, such as a web request.
STALE_CLAIM = timedelta(minutes=10)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SentMailLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, message_id: str) -> SentEmail | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.get(SentEmail, message_id)

    def begin_sending(self, row: SentEmail) -> bool:
        """Claim a message for one send; False if any attempt has claimed it before."""
        row.status = MailStatus.SENDING
        row.claimed_at = _utc_now()
        return self._insert(row)

    def _insert(self, row: SentEmail) -> bool:
        with Session(self._engine, expire_on_commit=False) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
            return True

    def hold_unsendable(self, row: SentEmail, reason: str) -> bool:
        """Record a message that can never go as it is, held for ops with the reason; False if any
        attempt has recorded it before."""
        row.status = MailStatus.HELD
        row.held_reason = reason
        row.claimed_at = None
        return self._insert(row)

    def mark_sent(self, message_id: str, note: bool = False, held_reason: str | None = None) -> None:
        """The server accepted it: whatever the row said before, it is sent now. With `note`, `held_reason`
        replaces the record of whom it did not reach (None: it reached everyone)."""
        if note:
            self._set(message_id, MailStatus.SENT, held_reason=held_reason)
        else:
            self._set(message_id, MailStatus.SENT)

    def refuse(self, message_id: str, reason: str) -> bool:
        """The server refused a claimed message for good: nothing went out, and it never will as it is.
        Held for ops with the reason; False if it was not mid-send."""
        return self._set(message_id, MailStatus.HELD, only_if=MailStatus.SENDING, held_reason=reason)

    def note_refusal(self, message_id: str, reason: str) -> bool:
        """A held message was tried again and refused again: the reason now. False if it is not held."""
        return self._set(message_id, MailStatus.HELD, only_if=MailStatus.HELD, held_reason=reason)

    def abandon(self, message_id: str) -> None:
        """The server refused the message for now (a 4xx), so nothing went out: a later attempt may try afresh."""
        with Session(self._engine, expire_on_commit=False) as session:
            session.exec(  # type: ignore[call-overload]
                delete(SentEmail).where(
                    col(SentEmail.message_id) == message_id, col(SentEmail.status) == MailStatus.SENDING
                )
            )
            session.commit()

    def hold(self, message_id: str) -> bool:
        """An attempt's ending is unknown: hold the message for ops (no reason: it may have arrived).
        False if it was not mid-send."""
        return self._set(message_id, MailStatus.HELD, only_if=MailStatus.SENDING, held_reason=None)

    def put_back(self, message_id: str) -> bool:
        """Ops' send of a held message was refused for now (nothing went out): held again as it was,
        reason and all, for the next try. False if it was not mid-send."""
        return self._set(message_id, MailStatus.HELD, only_if=MailStatus.SENDING)

    def take_held(self, message_id: str) -> SentEmail | None:
        """Claim a held message for ops to send; None if it is not held (sent or settled already)."""
        if not self._set(message_id, MailStatus.SENDING, only_if=MailStatus.HELD, claimed_at=_utc_now()):
            return None
        return self.get(message_id)

    def confirm_held_arrived(self, message_id: str) -> bool:
        """Ops know a held message arrived: it counts as sent. False if it was not held."""
        return self._set(message_id, MailStatus.SENT, only_if=MailStatus.HELD)

    def hold_stale_claims(self, now: datetime | None = None) -> int:
        """Hold every message whose send began longer ago than any send lasts: its sender died."""
        cutoff = (now or _utc_now()) - STALE_CLAIM
        statement = (
            update(SentEmail)
            .where(col(SentEmail.status) == MailStatus.SENDING, col(SentEmail.claimed_at) < cutoff)
            .values(status=MailStatus.HELD, held_reason=None)
        )
        with Session(self._engine, expire_on_commit=False) as session:
            changed = session.exec(statement).rowcount  # type: ignore[call-overload]
            session.commit()
            return int(changed)

    def held_or_stale(self, now: datetime | None = None) -> list[SentEmail]:
        """What `held()` will hold once `hold_stale_claims()` runs, read without writing (pages that only look)."""
        cutoff = (now or _utc_now()) - STALE_CLAIM
        stale = (col(SentEmail.status) == MailStatus.SENDING) & (col(SentEmail.claimed_at) < cutoff)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(SentEmail)
                    .where((col(SentEmail.status) == MailStatus.HELD) | stale)
                    .order_by(col(SentEmail.sent_at))
                ).all()
            )

    @staticmethod
    def is_held(sent: SentEmail, now: datetime | None = None) -> bool:
        """Held, or a send whose sender died (a stale claim) that will be held when anyone acts on it."""
        if sent.status == MailStatus.HELD:
            return True
        claimed = sent.claimed_at
        if sent.status != MailStatus.SENDING or claimed is None:
            return False
        current = now or _utc_now()
        if claimed.tzinfo is None:
            claimed = claimed.replace(tzinfo=current.tzinfo)
        return claimed < current - STALE_CLAIM

    def held(self) -> list[SentEmail]:
        with Session(self._engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(SentEmail).where(SentEmail.status == MailStatus.HELD).order_by(col(SentEmail.sent_at))
                ).all()
            )

    def for_escalation(self, escalation_id: str) -> list[SentEmail]:
        with Session(self._engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(SentEmail).where(SentEmail.escalation_id == escalation_id).order_by(col(SentEmail.sent_at))
                ).all()
            )

    def note_waiting(self, message_id: str, escalation_id: str, purpose: str, problem: str) -> None:
        """An attempt to send `message_id` failed for now and will be retried."""
        now = _utc_now()
        with Session(self._engine, expire_on_commit=False) as session:
            row = session.get(WaitingEmail, message_id)
            if row is None:
                row = WaitingEmail(
                    message_id=message_id,
                    escalation_id=escalation_id,
                    purpose=purpose,
                    first_failed_at=now,
                    last_failed_at=now,
                    problem=problem[:200],
                )
            else:
                row.last_failed_at, row.attempts, row.problem = now, row.attempts + 1, problem[:200]
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another attempt wrote it first: it is waiting, which is what counts
                session.rollback()

    def done_waiting(self, message_id: str) -> None:
        """`message_id` is sent (or held for ops): no longer waiting on the mail server."""
        with Session(self._engine, expire_on_commit=False) as session:
            session.exec(delete(WaitingEmail).where(col(WaitingEmail.message_id) == message_id))  # type: ignore[call-overload]
            session.commit()

    def waiting(self, now: datetime | None = None) -> list[WaitingEmail]:
        """Emails still being retried (failed within `STILL_RETRYING`), the longest-waiting first."""
        since = (now or _utc_now()) - STILL_RETRYING
        with Session(self._engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(WaitingEmail)
                    .where(col(WaitingEmail.last_failed_at) >= since)
                    .order_by(col(WaitingEmail.first_failed_at))
                ).all()
            )

    def _set(
        self, message_id: str, status: MailStatus, only_if: MailStatus | None = None, **also: datetime | str | None
    ) -> bool:
        statement = update(SentEmail).where(col(SentEmail.message_id) == message_id)
        if only_if is not None:
            statement = statement.where(col(SentEmail.status) == only_if)
        with Session(self._engine, expire_on_commit=False) as session:
            changed = session.exec(statement.values(status=status, **also)).rowcount  # type: ignore[call-overload]
            session.commit()
            return bool(changed)
