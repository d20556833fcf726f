"""SQLite writers of one process take turns (`persistence.sqlite_turns`): in order, handed on only once SQLite has
let go, and never stuck."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text

from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.sqlite_turns import take_turns

AT = datetime(2026, 11, 26, 9, tzinfo=UTC)


def never_waiting_in_sqlite(engine: Engine) -> Engine:
    """SQLite told not to wait at all for its lock: any write that meets another's lock fails at once."""
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=0"))
    engine.dispose()
    return engine


def test_a_turn_is_handed_on_only_once_sqlite_has_committed(tmp_path: Path) -> None:
    """Were the turn handed on at SQLAlchemy's commit event (before the driver commits), the next writer would meet
    SQLite's lock still held: with no busy wait, hundreds of these writes failed 'database is locked'."""
    log = AuditLog(never_waiting_in_sqlite(make_engine(f"sqlite:///{tmp_path / 'turns.db'}")))

    def chain(n: int) -> None:
        for seq in range(1, 11):
            log.append(f"UWC-T{n}", seq, AT, "step", "engine", {"n": n})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(chain, range(32)))  # raises the first thread's error, if any
    assert all(log.verify(f"UWC-T{n}").rows == 10 for n in range(32))


def test_engines_on_one_file_in_one_process_take_the_same_turns(tmp_path: Path) -> None:
    """The web app writes through two engines (its own and `shared_engine`): they queue together, not in SQLite."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    logs = [AuditLog(never_waiting_in_sqlite(make_engine(url))) for _ in range(2)]

    def chain(n: int) -> None:
        for seq in range(1, 11):
            logs[n % 2].append(f"UWC-S{n}", seq, AT, "step", "engine", {"n": n})

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(chain, range(32)))
    assert all(logs[0].verify(f"UWC-S{n}").rows == 10 for n in range(32))


def test_a_turn_taken_by_nobody_is_taken_back_after_the_longest_wait(tmp_path: Path) -> None:
    """A thread stopped between taking the turn and saying so (an activity cancelled there) leaves it taken by
    nobody: the next writer waits its longest, takes it back, and writers carry on in turn after it."""
    engine = create_engine(f"sqlite:///{tmp_path / 'stuck.db'}", connect_args={"check_same_thread": False})
    turns = take_turns(engine, longest_wait=0.3)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    turns._lock.acquire()  # taken, and nobody noted as holding it
    began = time.monotonic()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    assert 0.3 <= time.monotonic() - began < 5
    threads = [threading.Thread(target=lambda n=n: _insert(engine, n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 9
    assert not turns._lock.locked(), "every turn was given back"


def _insert(engine: Engine, n: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
