"""SMTP connections kept open between sends in one process, so a burst of emails (an incident's thousands of
practices) greets the mail server once a connection rather than once an email: no TCP connect, greeting, EHLO,
STARTTLS handshake and QUIT for each.

A connection goes back for the next send only when its send ended normally, and only once the server has answered
RSET (ready for a new transaction); one that failed in any way is closed. One taken up again is asked NOOP first:
a server that has dropped it meanwhile (its idle timeout, a restart) costs a fresh connection, not a failed send,
and nothing reaches the ledger's claim before that. Connections belong to the event loop that opened them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Callable, Hashable

import aiosmtplib

IDLE_SECONDS = 20.0
"""How long a connection may wait unused and still be taken up again: well inside any mail server's idle timeout
(RFC 5321 asks servers to wait 5 minutes), so a server rarely drops one first."""
MOST_IDLE = 8
"""Connections kept waiting for one server in one process: as many as the worker sends at once."""

_Idle = list[tuple[aiosmtplib.SMTP, float]]
_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Idle]] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def smtp_session(key: Hashable, connect: Callable[[], aiosmtplib.SMTP]) -> AsyncIterator[aiosmtplib.SMTP]:
    """A connected client for the server `key` names: one left from an earlier send if it still answers, else a new
    one from `connect` (not yet connected). Given back on a normal exit, closed on any other."""
    idle = _BY_LOOP.setdefault(asyncio.get_running_loop(), {}).setdefault(key, [])
    smtp = await _reused(idle)
    if smtp is None:
        smtp = connect()
        await smtp.connect()
    try:
        yield smtp
    except BaseException:
        smtp.close()
        raise
    await _give_back(idle, smtp)


async def _reused(idle: _Idle) -> aiosmtplib.SMTP | None:
    """The most recently used connection that is fresh enough and still answers; the rest of the stale closed."""
    while idle:
        smtp, since = idle.pop()
        if time.monotonic() - since > IDLE_SECONDS or not smtp.is_connected:
            smtp.close()
            continue
        try:
            await smtp.noop()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
            continue
        return smtp
    return None


async def _give_back(idle: _Idle, smtp: aiosmtplib.SMTP) -> None:
    if len(idle) >= MOST_IDLE or not smtp.is_connected:
        smtp.close()
        return
    try:
        await smtp.rset()  # a transaction left open (a send held before DATA) is ended
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
        return
    idle.append((smtp, time.monotonic()))
