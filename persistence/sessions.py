"""Console sessions kept on the server: the cookie carries only a random id, the row says whose
session it is, when it began, when it was last used and whether it has ended. Every replica of the
web app reads the same rows, so signing out or disabling an account ends a session everywhere."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Field, Session, SQLModel, col

TOUCH_EVERY = timedelta(seconds=60)  # last-used time is written at most this often, not on every request


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_session"

    id_hash: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's value: a stolen table opens nothing
    email: str = Field(index=True, max_length=320)
    csrf: str = Field(max_length=64)
    client: str | None = Field(default=None, max_length=64)
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    ended_reason: str | None = Field(default=None, max_length=40)


@dataclass(frozen=True)
class LiveSession:
    email: str
    csrf: str
    created_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def begin(self, email: str, client: str | None, now: datetime) -> tuple[str, str]:
        """A new session: its cookie value and its CSRF token (a new id at every sign-in)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with Session(self._engine) as session:
            session.add(
                ConsoleSession(
                    id_hash=_hash(token), email=email, csrf=csrf, client=client, created_at=now, last_seen_at=now
                )
            )
            session.commit()
        return token, csrf

    def live(self, token: str, now: datetime, idle: timedelta, lifetime: timedelta) -> LiveSession | None:
        """The session behind `token` if it has not ended, been idle too long or lived too long; an
        expired one is ended (with the reason) so the security log and the table agree."""
        if not token:
            return None
        with Session(self._engine) as session:
            row = session.get(ConsoleSession, _hash(token))
            if row is None or row.ended_at is not None:
                return None
            expired = (
                "idle" if now - _aware(row.last_seen_at, now) >= idle
                else "lifetime" if now - _aware(row.created_at, now) >= lifetime
                else None
            )  # fmt: skip
            if expired:
                row.ended_at, row.ended_reason = now, expired
                session.add(row)
                session.commit()
                return None
            if now - _aware(row.last_seen_at, now) >= TOUCH_EVERY:
                row.last_seen_at = now
                session.add(row)
                session.commit()
            return LiveSession(email=row.email, csrf=row.csrf, created_at=row.created_at)

    def end(self, token: str, now: datetime, reason: str) -> str | None:
        """End one session; the email it belonged to, if it was live."""
        with Session(self._engine) as session:
            row = session.get(ConsoleSession, _hash(token))
            if row is None or row.ended_at is not None:
                return None
            row.ended_at, row.ended_reason = now, reason
            session.add(row)
            session.commit()
            return row.email

    def end_all_for(self, email: str, now: datetime, reason: str) -> int:
        """End every live session of an account (disabled, password reset)."""
        with Session(self._engine) as session:
            result = session.exec(  # type: ignore[call-overload]
                update(ConsoleSession)
                .where(col(ConsoleSession.email) == email.lower(), col(ConsoleSession.ended_at).is_(None))
                .values(ended_at=now, ended_reason=reason)
            )
            session.commit()
            return int(result.rowcount or 0)


def _aware(moment: datetime, like: datetime) -> datetime:
    """SQLite returns naive datetimes; they were written in UTC."""
    return moment.replace(tzinfo=like.tzinfo) if moment.tzinfo is None and like.tzinfo is not None else moment
