"""Sends share SMTP connections (`mail.connections`) against a real aiosmtpd server: a burst of emails greets the
server once, and a connection the server has dropped costs a fresh one, not a failed, held or repeated email."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from mail.compose import compose, message_id_for
from mail.delivery import Delivery, SmtpDelivery
from persistence.database import make_engine
from persistence.sent_mail import MailStatus, SentEmail, SentMailLedger
from settings import Settings
from tests.conftest import free_port


class CountingServer:
    """Takes every message and counts the connections that greeted it."""

    def __init__(self) -> None:
        self.greetings = 0
        self.received: list[bytes] = []

    async def handle_EHLO(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(envelope.original_content or b"")
        return "250 OK"


async def send(delivery: SmtpDelivery, ledger_reference: str, n: int) -> Delivery:
    effect = EmailEffect(
        purpose="return-requested",
        to=Contact(name="Practice Manager", title="PM", email=f"pm{n}@nhs.example"),
        to_role=Role.PRACTICE,
        subject=f"[{ledger_reference}] Return requested",
        headline="Return requested",
        paragraphs=["Please send your return."],
    )
    message_id = message_id_for(ledger_reference, n, "lmc.example")
    message = compose(
        effect,
        mail_from="LMC <escalations@lmc.example>",
        message_id=message_id,
        in_reply_to=None,
        link=None,
        facts=[],
        action_labels={},
        sent_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
    )
    row = SentEmail(
        message_id=message_id,
        escalation_id=ledger_reference,
        purpose=effect.purpose,
        recipient=effect.to.email,
        subject=effect.subject,
    )
    return (await delivery.send_once(message, row)).delivery


async def test_a_burst_of_emails_greets_the_server_once_a_connection(settings: Settings) -> None:
    server = CountingServer()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        local = settings.model_copy(update={"smtp_port": port})
        delivery = SmtpDelivery(local, SentMailLedger(make_engine(local.database)))
        reference = f"PEC-CONN-{uuid.uuid4().hex[:6].upper()}"
        for n in range(1, 11):
            assert await send(delivery, reference, n) is Delivery.SENT
        together = await asyncio.gather(*(send(delivery, reference, n) for n in range(11, 15)))
        assert set(together) == {Delivery.SENT}
    finally:
        controller.stop()
    assert len(server.received) == 14  # each once
    assert server.greetings <= 4  # one for the ten in a row, and at most one for each of the four at once


async def test_a_connection_the_server_dropped_is_replaced_and_the_email_goes_once(settings: Settings) -> None:
    server = CountingServer()
    port = free_port()
    local = settings.model_copy(update={"smtp_port": port})
    ledger = SentMailLedger(make_engine(local.database))
    delivery = SmtpDelivery(local, ledger)
    reference = f"PEC-DROP-{uuid.uuid4().hex[:6].upper()}"
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    assert await send(delivery, reference, 1) is Delivery.SENT
    controller.stop()  # the server restarts, dropping the connection kept for the next send
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert await send(delivery, reference, 2) is Delivery.SENT
    finally:
        controller.stop()
    assert len(server.received) == 2 and server.greetings == 2
    second = ledger.get(message_id_for(reference, 2, "lmc.example"))
    assert second is not None and second.status == MailStatus.SENT
    assert [w for w in ledger.waiting() if w.escalation_id == reference] == []  # never the mail server failing
