"""SQLite writers of one process take turns at a lock, in the order they asked.

SQLite lets one writer in at a time and makes the others poll, sleeping up to 100 ms between tries (its busy
handler), so with a worker's dozens of threads writing at once an unlucky one could wait over a second while
later ones went first, and hold its practice's workflow task as long (README, Benchmark). Here a transaction
takes its turn at its first write, as SQLite takes its lock, and gives it back once the driver has committed or
rolled back, when SQLite has let go too; reads never wait. Other processes still meet the busy handler.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from sqlalchemy import Connection, Engine, event

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_MARK = "sqlite_turn"  # on a connection in a transaction: it holds the turn, or waited its longest for it


_BY_DATABASE: dict[str, Turns] = {}
"""One set of turns for each database file in this process, whichever engines write to it (the web app has its own
and a shared one; `run_local.py` runs the worker beside it)."""
_BY_DATABASE_LOCK = threading.Lock()


def take_turns(engine: Engine, longest_wait: float) -> Turns:
    """Make `engine`'s writers take turns, with every other engine's in this process on the same file; one waits at
    most `longest_wait` seconds, then lets SQLite decide."""
    turns = _turns_for(engine.url.database or "", longest_wait)
    event.listen(engine, "before_cursor_execute", turns.before_statement)
    for ended in ("commit", "rollback"):
        event.listen(engine, ended, turns.forget_mark)
    dialect = engine.dialect  # the engine's own, shared with its pool (which rolls back connections checked in)
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            turns.give_back(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            turns.give_back(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    for gone in ("checkin", "close", "invalidate"):  # however else the holder's transaction ended
        event.listen(engine, gone, turns.connection_gone)
    return turns


def _turns_for(database: str, longest_wait: float) -> Turns:
    if not database or database == ":memory:":  # each in-memory database is its own
        return Turns(longest_wait)
    with _BY_DATABASE_LOCK:
        return _BY_DATABASE.setdefault(os.path.realpath(database), Turns(longest_wait))


class Turns:
    """One database file's turns in this process: the lock, and which connection's transaction (on which thread)
    has it."""

    def __init__(self, longest_wait: float) -> None:
        self._lock = threading.Lock()
        self._longest_wait = longest_wait
        self._holder: Any = None  # the DBAPI connection whose transaction has the turn
        self._holder_thread: int | None = None

    def before_statement(self, connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if _MARK in connection.info or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        me = threading.get_ident()
        if self._holder_thread == me:  # this thread's other transaction has it: SQLite decides, as it would have
            connection.info[_MARK] = "waited"
            return
        got = self._lock.acquire(timeout=self._longest_wait)
        if not got and self._holder is None and self._lock.locked():
            got = True  # held by nobody: a thread stopped between taking it and saying so (a cancelled activity)
        if got:
            self._holder, self._holder_thread = _raw(connection.connection), me
        connection.info[_MARK] = "held" if got else "waited"  # not to wait again in this transaction

    def forget_mark(self, connection: Connection) -> None:
        connection.info.pop(_MARK, None)

    def give_back(self, dbapi_connection: Any) -> None:
        if self._holder is not None and self._holder is _raw(dbapi_connection):
            self._holder, self._holder_thread = None, None
            # RuntimeError: taken back from nobody (above) by two at once; SQLite still orders their writes
            with contextlib.suppress(RuntimeError):
                self._lock.release()

    def connection_gone(self, dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info.pop(_MARK, None)
        if dbapi_connection is not None:
            self.give_back(dbapi_connection)


def _raw(connection: Any) -> Any:
    """The driver's own connection, whether given it or SQLAlchemy's wrapper of it."""
    return getattr(connection, "dbapi_connection", connection)
