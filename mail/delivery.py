"""Hand each message to the SMTP server at most once, whatever crashes, retries or second workers
come between.

SMTP cannot say whether a message arrived once the sender has lost its connection, so the one
safe rule is: the ledger claims the message just before its content goes to the server, and only
the attempt that holds the claim may send it. An attempt that finds a claim it does not hold knows
an earlier one stopped mid-send; it holds the message for ops rather than risk a second copy.
Envelope and recipients come from the message's own headers, so a held message released later
goes out byte for byte as it would have the first time.

Some messages can never go as they are, and retrying them would only fail again forever: those are
held for ops too, with the reason (`Delivery.UNSENDABLE`). The rule for what a retry cannot fix:

- permanent: a 5xx reply to RCPT (that address, for good) or to DATA (that message, for good), and
  a message that cannot be written out at all (`mail.compose.Unsendable`, raised before sending);
- transient, raised so the activity retries with backoff: no connection, a timeout, any 4xx, and a
  5xx to the greeting, login or sender (MAIL FROM), which is about the engine's own mail settings:
  fixing them cures every email at once.

A permanent refusal of the recipient in To holds the message (it never goes to its Cc alone); one
of Cc only sends it to the rest and records whom it did not reach. Nothing is sent when a refusal
holds a message, so ops can still send it, as stored, once the address is corrected.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.errors import MessageError
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from enum import StrEnum
from functools import cache

import aiosmtplib

from mail.compose import ComposedMessage, printable
from mail.connections import smtp_session
from persistence.sent_mail import MailStatus, SentEmail, SentMailLedger
from settings import Settings


class Delivery(StrEnum):
    SENT = "sent"  # this call handed it over and the server accepted it
    ALREADY_SENT = "already_sent"  # an earlier attempt did
    HELD = "held"  # an attempt was cut off mid-send: it may have arrived; ops decide
    UNSENDABLE = "unsendable"  # it can never go as it is: held for ops with the reason; nothing went out


@dataclass(frozen=True)
class Outcome:
    delivery: Delivery
    reason: str | None = None  # why it is held (UNSENDABLE); whom it did not reach (SENT to the rest)
    refused: tuple[str, ...] = ()  # addresses the server refused for good, as this attempt saw

    @property
    def held(self) -> bool:
        return self.delivery in (Delivery.HELD, Delivery.UNSENDABLE)


def permanent(refusal: aiosmtplib.SMTPResponseException) -> bool:
    """A 5xx reply: what it refused will be refused again, however often it is retried."""
    return 500 <= refusal.code <= 599


def _reply(refusal: aiosmtplib.SMTPResponseException) -> str:
    return f"{refusal.code} {printable(refusal.message, 160)}".strip()


@dataclass
class _Envelope:
    to: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # address: the server's reply

    def to_refused(self) -> bool:
        return all(address in self.refused for address in self.to)

    def _listed(self) -> str:
        return ", ".join(f"{address} ({reply})" for address, reply in self.refused.items())

    def reason(self) -> str:
        return f"the mail server refused {self._listed()} for good"

    def note(self) -> str | None:
        return f"sent, but the mail server refused {self._listed()} for good" if self.refused else None


@cache
def local_hostname() -> str:
    """This host's name as it greets the mail server (EHLO), looked up once a process rather than once an email."""
    return socket.getfqdn()


class SmtpDelivery:
    def __init__(self, settings: Settings, ledger: SentMailLedger) -> None:
        self._settings = settings
        self._ledger = ledger
        self._hostname = local_hostname()
        # Connections are shared between sends to the same server as the same user (`mail.connections`).
        self._server = (settings.smtp_host, settings.smtp_port, settings.smtp_username, settings.smtp_starttls)

    async def send_once(self, message: Message, row: SentEmail, accepted: Callable[[], None] = lambda: None) -> Outcome:
        """Send `message` unless any attempt has before; `accepted` runs the moment the server takes it.
        Raises only for what a retry may cure (the module's docstring gives the rule)."""
        earlier = await self._earlier_attempt(row.message_id)
        if earlier is not None:
            return earlier
        async with smtp_session(self._server, self._connect) as smtp:
            eight_bit = smtp.supports_extension("8bitmime")
            try:
                flat = written_by_compose(message) or message.as_bytes(
                    policy=policy.SMTP if eight_bit else policy.SMTP.clone(cte_type="7bit")
                )
            except (ValueError, MessageError) as err:
                return await self.hold_unsendable(
                    row, f"it could not be written out as an email ({printable(str(err))})"
                )
            row.raw = flat.decode("utf-8", errors="replace")
            envelope = await self._envelope(smtp, message, eight_bit)
            if envelope.to_refused():  # nothing goes out: ops can send it as stored once corrected
                return await self.hold_unsendable(row, envelope.reason(), tuple(envelope.refused))
            row.held_reason = envelope.note()
            if not await asyncio.to_thread(self._ledger.begin_sending, row):  # another attempt got there first
                return await self._earlier_attempt(row.message_id) or Outcome(Delivery.ALREADY_SENT)
            return await self._hand_over(smtp, row.message_id, flat, envelope, accepted, first_send=True)

    async def hold_unsendable(self, row: SentEmail, reason: str, refused: tuple[str, ...] = ()) -> Outcome:
        """Hold a message that can never go as it is, with the reason, unless an attempt has recorded it."""
        earlier = await self._earlier_attempt(row.message_id)
        if earlier is not None:
            return earlier
        if not await asyncio.to_thread(self._ledger.hold_unsendable, row, reason):
            return await self._earlier_attempt(row.message_id) or Outcome(Delivery.ALREADY_SENT)
        return Outcome(Delivery.UNSENDABLE, reason, refused)

    async def settle(self, message_id: str, send: bool) -> str:
        """Ops' decision on a held message: "sent", "held" (cut off or refused again, or still no way to
        build it), "confirmed" (it arrived, or is not to be sent), or "not_held" when it was settled already."""
        if not send:
            return "confirmed" if await self.confirm_arrived(message_id) else "not_held"
        outcome = await self.release_held(message_id)
        if outcome is None:
            return "not_held"
        return "held" if outcome.held else outcome.delivery.value

    async def release_held(self, message_id: str) -> Outcome | None:
        """Ops chose to send a held message: send it as stored. None if it is not held (settled already).
        One with nothing stored (it could never be built) stays held, its reason unchanged."""
        held = await asyncio.to_thread(self._ledger.get, message_id)
        if held is None or held.status == MailStatus.SENT:
            return None
        if held.status == MailStatus.SENDING:  # an earlier release was cut off: held again
            await asyncio.to_thread(self._ledger.hold, message_id)
            return Outcome(Delivery.HELD)
        if held.raw is None:
            return Outcome(Delivery.UNSENDABLE, held.held_reason)
        flat = held.raw.encode("utf-8")
        message = BytesParser(policy=policy.SMTP).parsebytes(flat)
        async with smtp_session(self._server, self._connect) as smtp:
            envelope = await self._envelope(smtp, message, smtp.supports_extension("8bitmime"))
            if envelope.to_refused():
                if not await asyncio.to_thread(self._ledger.note_refusal, message_id, envelope.reason()):
                    return None  # settled meanwhile
                return Outcome(Delivery.UNSENDABLE, envelope.reason(), tuple(envelope.refused))
            if await asyncio.to_thread(self._ledger.take_held, message_id) is None:  # settled meanwhile
                return None
            return await self._hand_over(smtp, message_id, flat, envelope, first_send=False)

    async def confirm_arrived(self, message_id: str) -> bool:
        """Ops know a held message arrived (or decide it is not to be sent): record it as sent.
        False if it is no longer held."""
        return await asyncio.to_thread(self._ledger.confirm_held_arrived, message_id)

    async def _earlier_attempt(self, message_id: str) -> Outcome | None:
        row = await asyncio.to_thread(self._ledger.get, message_id)
        if row is None:
            return None
        if row.status == MailStatus.SENT:
            return Outcome(Delivery.ALREADY_SENT, row.held_reason)
        if row.status == MailStatus.HELD and row.held_reason is not None:
            return Outcome(Delivery.UNSENDABLE, row.held_reason)
        await asyncio.to_thread(self._ledger.hold, message_id)  # sending: its attempt never said how it ended
        return Outcome(Delivery.HELD)

    async def _hand_over(
        self,
        smtp: aiosmtplib.SMTP,
        message_id: str,
        flat: bytes,
        envelope: _Envelope,
        accepted: Callable[[], None] = lambda: None,
        *,
        first_send: bool,
    ) -> Outcome:
        try:
            await smtp.data(flat)
        except aiosmtplib.SMTPResponseException as refusal:  # the server answered no: nothing went out
            if permanent(refusal):
                reason = f"the mail server refused the message for good ({_reply(refusal)})"
                await asyncio.to_thread(self._ledger.refuse, message_id, reason)
                return Outcome(Delivery.UNSENDABLE, reason)
            # For now only: a retry sends it afresh; ops' send is held as it was, for their next try.
            await asyncio.to_thread(self._ledger.abandon if first_send else self._ledger.put_back, message_id)
            raise
        except Exception:  # cut off without an answer: it may have arrived
            await asyncio.to_thread(self._ledger.hold, message_id)
            return Outcome(Delivery.HELD)
        except BaseException:  # cancelled mid-send: hold it, then let the cancellation through
            await asyncio.shield(asyncio.to_thread(self._ledger.hold, message_id))
            raise
        accepted()
        await asyncio.to_thread(self._ledger.mark_sent, message_id, True, envelope.note())
        return Outcome(Delivery.SENT, envelope.note(), tuple(envelope.refused))

    async def _envelope(self, smtp: aiosmtplib.SMTP, message: Message, eight_bit: bool) -> _Envelope:
        """MAIL FROM and a RCPT TO per recipient; addresses refused for good are collected, not raised."""
        await smtp.mail(parseaddr(self._settings.mail_from)[1], options=["BODY=8BITMIME"] if eight_bit else [])
        envelope = _Envelope(to=[address for _, address in getaddresses(message.get_all("To", []))])
        for _, address in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])):
            try:
                await smtp.rcpt(address)
            except aiosmtplib.SMTPRecipientRefused as refusal:
                if not permanent(refusal):
                    raise
                envelope.refused[address] = _reply(refusal)
        return envelope

    def _connect(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=30,
            local_hostname=self._hostname,
        )


def written_by_compose(message: Message) -> bytes | None:
    """The bytes `compose` wrote and checked, which either kind of server takes (all ASCII)."""
    return message.written if isinstance(message, ComposedMessage) else None
