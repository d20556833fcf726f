"""The development SMTP sink: accepts every message and stores it as var/mail/<n>-<id>.eml."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlDirectoryHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        message_id = message_from_bytes(raw).get("Message-ID", "") or "no-id"
        safe = re.sub(r"[^A-Za-z0-9.-]+", "_", message_id.strip("<>"))[:100]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        (self.directory / f"{stamp}-{safe}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"


def start_sink(directory: Path, host: str = "127.0.0.1", port: int = 8025, **kwargs: Any) -> Controller:
    """Start the sink on a background thread; call `.stop()` on the result to end it."""
    controller = Controller(EmlDirectoryHandler(directory), hostname=host, port=port, **kwargs)
    controller.start()
    return controller
