"""Hand each message to the SMTP server at most once, whatever crashes, retries or second workers
come between.

SMTP cannot say whether a message arrived once the sender has lost its connection, so the one
safe rule is: the ledger claims the message just before its content goes to the server, and only
the attempt that holds the claim may send it. An attempt that finds a claim it does not hold knows
an earlier one stopped mid-send; it holds the message for ops rather than risk a second copy.
Envelope and recipients come from the message's own headers, so a held message released later
goes out byte for byte as it would have the first time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from enum import StrEnum

import aiosmtplib

from persistence.sent_mail import MailStatus, SentEmail, SentMailLedger
from settings import Settings


class Delivery(StrEnum):
    SENT = "sent"  # this call handed it over and the server accepted it
    ALREADY_SENT = "already_sent"  # an earlier attempt did
    HELD = "held"  # an attempt was cut off mid-send: it may have arrived; ops decide


class SmtpDelivery:
    def __init__(self, settings: Settings, ledger: SentMailLedger) -> None:
        self._settings = settings
        self._ledger = ledger

    async def send_once(
        self, message: EmailMessage, row: SentEmail, accepted: Callable[[], None] = lambda: None
    ) -> Delivery:
        """Send `message` unless any attempt has before; `accepted` runs the moment the server takes it."""
        earlier = await self._earlier_attempt(row.message_id)
        if earlier is not None:
            return earlier
        async with self._connect() as smtp:
            eight_bit = smtp.supports_extension("8bitmime")
            flat = message.as_bytes(policy=policy.SMTP if eight_bit else policy.SMTP.clone(cte_type="7bit"))
            await self._envelope(smtp, message, eight_bit)
            row.raw = flat.decode("utf-8", errors="replace")
            if not await asyncio.to_thread(self._ledger.begin_sending, row):  # another attempt got there first
                return await self._earlier_attempt(row.message_id) or Delivery.ALREADY_SENT
            return await self._hand_over(smtp, row.message_id, flat, accepted)

    async def settle(self, message_id: str, send: bool) -> str:
        """Ops' decision on a held message: "sent", "held" (cut off again), "confirmed" (it arrived),
        or "not_held" when it was settled already."""
        if not send:
            return "confirmed" if await self.confirm_arrived(message_id) else "not_held"
        delivery = await self.release_held(message_id)
        return "not_held" if delivery is None else delivery.value

    async def release_held(self, message_id: str) -> Delivery | None:
        """Ops chose to send a held message: send it as stored. None if it is not held (settled already)."""
        held = await asyncio.to_thread(self._ledger.get, message_id)
        if held is None or held.status == MailStatus.SENT or held.raw is None:
            return None
        if held.status == MailStatus.SENDING:  # an earlier release was cut off: held again
            await asyncio.to_thread(self._ledger.hold, message_id)
            return Delivery.HELD
        flat = held.raw.encode("utf-8")
        message = BytesParser(policy=policy.SMTP).parsebytes(flat)
        async with self._connect() as smtp:
            await self._envelope(smtp, message, smtp.supports_extension("8bitmime"))
            if await asyncio.to_thread(self._ledger.take_held, message_id) is None:  # settled meanwhile
                return None
            return await self._hand_over(smtp, message_id, flat)

    async def confirm_arrived(self, message_id: str) -> bool:
        """Ops know a held message arrived: record it as sent. False if it is no longer held."""
        return await asyncio.to_thread(self._ledger.confirm_held_arrived, message_id)

    async def _earlier_attempt(self, message_id: str) -> Delivery | None:
        row = await asyncio.to_thread(self._ledger.get, message_id)
        if row is None:
            return None
        if row.status == MailStatus.SENT:
            return Delivery.ALREADY_SENT
        await asyncio.to_thread(self._ledger.hold, message_id)  # sending: its attempt never said how it ended
        return Delivery.HELD

    async def _hand_over(
        self, smtp: aiosmtplib.SMTP, message_id: str, flat: bytes, accepted: Callable[[], None] = lambda: None
    ) -> Delivery:
        try:
            await smtp.data(flat)
        except aiosmtplib.SMTPResponseException:  # the server answered no: nothing went out
            await asyncio.to_thread(self._ledger.abandon, message_id)
            raise
        except Exception:  # cut off without an answer: it may have arrived
            await asyncio.to_thread(self._ledger.hold, message_id)
            return Delivery.HELD
        except BaseException:  # cancelled mid-send: hold it, then let the cancellation through
            await asyncio.shield(asyncio.to_thread(self._ledger.hold, message_id))
            raise
        accepted()
        await asyncio.to_thread(self._ledger.mark_sent, message_id)
        return Delivery.SENT

    async def _envelope(self, smtp: aiosmtplib.SMTP, message: Message, eight_bit: bool) -> None:
        await smtp.mail(parseaddr(self._settings.mail_from)[1], options=["BODY=8BITMIME"] if eight_bit else [])
        for _, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])):
            await smtp.rcpt(address)

    def _connect(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=30,
        )
