"""The application database: SQLite under var/ by default, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event, text
from sqlmodel import create_engine

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
        _take_turns(engine)
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


def _take_turns(engine: Engine) -> None:
    """Writers in this process take turns at a lock, in the order they asked. SQLite lets one writer in at a time
    and makes the others poll with sleeps of up to 100 ms (its busy handler), so with a worker's dozens of threads
    writing at once an unlucky one could wait over a second while later ones went first, holding its practice's
    workflow task as long (the England benchmark). A transaction takes its turn at its first write, as SQLite
    takes its lock, and gives it back at commit or rollback; reads never wait. Other processes still meet the
    busy handler."""
    turns = _Turns()
    event.listen(engine, "before_cursor_execute", turns.take_to_write)
    event.listen(engine, "commit", turns.give_back)
    event.listen(engine, "rollback", turns.give_back)
    event.listen(engine, "checkin", turns.give_back_at_checkin)  # however the transaction ended


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class _Turns:
    """The turn a transaction takes at its first write and gives back at its end, on whichever thread. A write
    from a thread whose own other transaction has the turn goes ahead (SQLite decides), as does one that waited
    as long as SQLite itself would have."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None

    def take_to_write(self, connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if "sqlite_turn" in connection.info or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        me = threading.get_ident()
        if self._holder != me and self._lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            self._holder = me
            connection.info["sqlite_turn"] = True

    def give_back(self, connection: Connection) -> None:
        self._release(connection.info)

    def give_back_at_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        self._release(record.info)

    def _release(self, info: dict[Any, Any]) -> None:
        if info.pop("sqlite_turn", False):
            self._holder = None
            self._lock.release()
