"""A synchronous activity's database write, finished before the activity's cancellation takes effect.

Temporal cancels a synchronous activity (its timeout, a worker shutting down) by raising an exception inside its
thread at whatever line it has reached. A write cut off there is rolled back and retried, which is safe; but cut
off between taking its SQLite turn and noting it (`persistence.sqlite_turns`), it would leave the turn taken by
nobody. Writes are short, so the cancellation waits for the write and is raised as it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity


@contextmanager
def uncancelled() -> Iterator[None]:
    """Hold back a synchronous activity's cancellation until the block ends (outside an activity: nothing)."""
    if not activity.in_activity():
        yield
        return
    with activity.shield_thread_cancel_exception():
        yield
