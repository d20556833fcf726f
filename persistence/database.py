"""The application database: SQLite under var/ by default, PostgreSQL in production."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, text
from sqlmodel import create_engine

from persistence.sqlite_turns import take_turns

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_PG_MIGRATION_LOCK = 7_240_001
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str) -> Engine:
    """An engine for `url`, its schema migrated to the newest revision."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        take_turns(engine, SQLITE_BUSY_SECONDS)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        # A database that does not answer is refused in seconds (503 on the web), not waited on for minutes.
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    migrate(engine, url)
    return engine


@cache
def shared_engine(url: str) -> Engine:
    """One engine per database for a process's service calls (the CLI, the web app), migrated once."""
    return make_engine(url)


def migrate(engine: Engine, url: str) -> None:
    """Bring the schema to the newest migration. Processes starting together (workers, the web
    app) take turns: an advisory lock on PostgreSQL, a lock file beside an SQLite database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _sqlite_lock(url), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _sqlite_lock(url: str) -> Iterator[None]:
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()
