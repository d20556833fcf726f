"""The application database: SQLite under var/ by default, PostgreSQL in production."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlmodel import SQLModel, create_engine


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the schema in place (tables are only ever added to)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = create_engine(url, pool_pre_ping=True)
    # Import the table modules so their metadata is registered before create_all.
    from persistence import audit_log, practice_returns, sent_mail  # noqa: F401

    _create_schema(engine)
    return engine


def _create_schema(engine: Engine, attempts: int = 10) -> None:
    """Create missing tables. Several processes starting at once (two workers and the web app)
    race between checking and creating; the loser sees the winner's tables on the next try."""
    for attempt in range(attempts):
        try:
            SQLModel.metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
