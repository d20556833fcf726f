"""Counters for `limits` (the kept rate-limiting library) kept in the database, so every replica of
the web app counts the same sign-in failures. `limits` owns the strategy (fixed windows, parsing
"5 per 15 minutes"); this module only stores its counters, as `limits`' storage interface asks."""

from __future__ import annotations

import time
from collections.abc import Callable

from limits.storage import Storage
from sqlalchemy import Engine, delete, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col


class RateLimitCounter(SQLModel, table=True):
    __tablename__ = "rate_limit_counter"

    key: str = Field(primary_key=True, max_length=400)
    count: int
    expires_at: float  # seconds since the epoch


_INCR = text(
    "INSERT INTO rate_limit_counter (key, count, expires_at) VALUES (:key, :amount, :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN rate_limit_counter.expires_at > :now THEN rate_limit_counter.count + :amount ELSE :amount END, "
    "expires_at = CASE WHEN rate_limit_counter.expires_at > :now THEN rate_limit_counter.expires_at ELSE :expires END "
    "RETURNING count"
)


class DatabaseStorage(Storage):
    """A `limits` storage on the engine's database; one atomic upsert per hit. `clock` is seconds
    since the epoch (tests pass a controllable one)."""

    STORAGE_SCHEME = ["lmc-database"]

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        super().__init__(wrap_exceptions=True)
        self._engine = engine
        self._clock = clock

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self._clock()
        with self._engine.begin() as connection:
            row = connection.execute(_INCR, {"key": key, "amount": amount, "expires": now + expiry, "now": now})
            return int(row.scalar_one())

    def _row(self, key: str) -> RateLimitCounter | None:
        with Session(self._engine) as session:
            row = session.get(RateLimitCounter, key)
            return row if row is not None and row.expires_at > self._clock() else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row is not None else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row is not None else self._clock()

    def check(self) -> bool:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with Session(self._engine) as session:
            result = session.exec(delete(RateLimitCounter))  # type: ignore[call-overload]
            session.commit()
            return int(result.rowcount or 0)

    def clear(self, key: str) -> None:
        with Session(self._engine) as session:
            session.exec(delete(RateLimitCounter).where(col(RateLimitCounter.key) == key))  # type: ignore[call-overload]
            session.commit()
