"""The bench's SMTP sink, run in a process of its own (`python -m bench.sink PORT LOG`), and its log's reader.

The sink accepts every message and appends one line to LOG: the arrival time (epoch seconds), the escalation
reference from the subject's "[REF]" and the first link path in the plain-text body. The bench reads LOG
(`MailLog`) to learn when each escalation's first email arrived and which link it carries.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import TextIO

from aiosmtpd.smtp import SMTP, Envelope, Session

_REFERENCE = re.compile(r"^\[([^\]]+)\]")
_LINK = re.compile(r"/r/[A-Za-z0-9_.=~-]+")


class LinkLog:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        arrived = time.time()
        # Python's older (compat32) parser: no header objects made, about two thirds of the CPU of
        # `policy.default`'s, which the worker and Temporal would otherwise share on a small machine.
        message = message_from_bytes(envelope.original_content or b"")
        reference = _REFERENCE.match(str(make_header(decode_header(message.get("Subject", "")))))
        link = _LINK.search(_plain_text(message))
        self.out.write(f"{arrived:.6f}\t{reference.group(1) if reference else ''}\t{link.group(0) if link else ''}\n")
        self.out.flush()
        return "250 OK"


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            body = part.get_payload(decode=True)
            return body.decode(part.get_content_charset() or "utf-8", "replace") if isinstance(body, bytes) else ""
    return ""


async def serve(port: int, log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        handler = LinkLog(out)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(handler, hostname="bench-sink"), "127.0.0.1", port)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()


@dataclass(frozen=True)
class Mail:
    at: float  # epoch seconds, as the sink received it
    reference: str
    link: str


class MailLog:
    """The sink's log, read as it grows: the first email of each escalation and how many arrived in all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first: dict[str, Mail] = {}
        self.count = 0
        self._offset = 0

    def refresh(self) -> MailLog:
        if not self.path.exists():
            return self
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            at, reference, link = line.split("\t")
            self.count += 1
            if reference not in self.first:
                self.first[reference] = Mail(float(at), reference, link)
        return self

    def arrived(self, references: list[str]) -> list[Mail]:
        """The first email of each of `references` that has arrived so far."""
        self.refresh()
        return [self.first[r] for r in references if r in self.first]


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2])))
