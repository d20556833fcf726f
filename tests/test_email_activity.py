"""The email activity against real SMTP servers: rendering, threading, no duplicate on retry, and
a send cut off mid-way held for ops rather than repeated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from aiosmtplib import SMTPDataError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, EmailRequest, EmailSent, SettleHeldEmail
from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from links.signing import verify_link
from mail.compose import message_id_for
from persistence.database import make_engine
from persistence.sent_mail import MailStatus, SentMailLedger
from settings import Settings
from tests.conftest import CutOffAfterData, Inbox, body_text, mail_server


def request(step: int, thread_root: str | None = None) -> EmailRequest:
    return EmailRequest(
        escalation_id="UWC-2026-MAIL01",
        step=step,
        sent_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        thread_root=thread_root,
        effect=EmailEffect(
            purpose="submitted",
            to=Contact(name="Ian Ayres", title="Contracts", email="primarycare.contracts@kmicb.example"),
            to_role=Role.PAYER,
            cc=[Contact(name="Carlo Rossi", title="CEO", email="ceo@lmc.example")],
            subject="[UWC-2026-MAIL01] Claim for unfunded work <test>",
            headline="Claim for unfunded work <test>",
            paragraphs=["Please acknowledge & respond."],
            actions=["acknowledge"],
        ),
        facts=[("Claimed", "£2,837.00")],
        action_labels={"acknowledge": "Acknowledge receipt"},
    )


async def test_a_retried_send_is_not_sent_twice_and_replies_thread(settings: Settings, inbox: Inbox) -> None:
    activities = EmailActivities(settings, SentMailLedger(make_engine(settings.database)))
    env = ActivityEnvironment()
    first = await env.run(activities.send_email, request(1))
    retry = await env.run(activities.send_email, request(1))
    assert retry.already_sent and retry.message_id == first.message_id
    await inbox.wait_for("UWC-2026-MAIL01", 1)
    second = await env.run(activities.send_email, request(2, thread_root=first.message_id))
    messages = await inbox.wait_for("UWC-2026-MAIL01", 2)
    assert len(messages) == 2
    opening, reply = messages
    assert opening["Message-ID"] == first.message_id == "<UWC-2026-MAIL01.1@escalations.lmc.example>"
    assert reply["Message-ID"] == second.message_id and reply["In-Reply-To"] == first.message_id
    html = body_text(opening, "html")
    assert "&lt;test&gt;" in html and "acknowledge &amp; respond" in html
    text = body_text(opening, "plain")
    token = text.split("/r/")[1].split()[0]
    grant = verify_link(settings.link_keys, token, now=datetime(2026, 11, 24, tzinfo=UTC))
    assert grant.escalation_id == "UWC-2026-MAIL01" and grant.role is Role.PAYER
    assert grant.recipient == "primarycare.contracts@kmicb.example"


class RefusesForNow:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        return "451 4.3.0 Try again later"


def settle(message_id: str, send: bool) -> SettleHeldEmail:
    return SettleHeldEmail(message_id=message_id, send=send, by="ops@lmc.example")


async def test_a_send_cut_off_mid_way_is_held_then_sent_once_by_ops(settings: Settings, inbox: Inbox) -> None:
    ledger = SentMailLedger(make_engine(settings.database))
    env = ActivityEnvironment()
    cut_off = CutOffAfterData()
    with mail_server(cut_off, settings) as flaky:
        held = await env.run(EmailActivities(flaky, ledger).send_email, request(3))
        again = await env.run(EmailActivities(flaky, ledger).send_email, request(3))
    assert held.held and again.held and len(cut_off.received) == 1  # the retry did not risk a second copy
    assert ledger.held()[-1].message_id == held.message_id

    activities = EmailActivities(settings, ledger)  # ops: it did not arrive, send it
    assert await env.run(activities.settle_held_email, settle(held.message_id, send=True)) == "sent"
    assert await env.run(activities.settle_held_email, settle(held.message_id, send=True)) == "not_held"
    again = await env.run(activities.send_email, request(3))
    assert again.model_copy(update={"thread_root": None}) == EmailSent(
        message_id=held.message_id, recipients=held.recipients, already_sent=True
    )
    assert again.thread_root == held.message_id.replace(".3@", ".1@")  # a third email replies to the case's first
    await asyncio.sleep(0.2)
    released = [m for m in inbox.messages if m["Message-ID"] == held.message_id]
    assert len(released) == 1
    assert released[0]["Cc"] == "Carlo Rossi <ceo@lmc.example>"  # every recipient, from the stored message
    first = message_from_bytes(cut_off.received[0], policy=policy.default)
    assert body_text(released[0]) == body_text(first)  # type: ignore[arg-type]  # as first handed over, link and all


async def test_ops_can_record_that_a_held_email_arrived(settings: Settings, inbox: Inbox) -> None:
    ledger = SentMailLedger(make_engine(settings.database))
    env = ActivityEnvironment()
    with mail_server(CutOffAfterData(), settings) as flaky:
        held = await env.run(EmailActivities(flaky, ledger).send_email, request(4))
    activities = EmailActivities(settings, ledger)
    assert await env.run(activities.settle_held_email, settle(held.message_id, send=False)) == "confirmed"
    assert await env.run(activities.settle_held_email, settle(held.message_id, send=True)) == "not_held"
    assert (await env.run(activities.send_email, request(4))).already_sent
    assert ledger.get(held.message_id).status == MailStatus.SENT  # type: ignore[union-attr]
    assert not [m for m in inbox.messages if m["Message-ID"] == held.message_id]


async def test_a_send_refused_for_now_is_retried_in_full(settings: Settings, inbox: Inbox) -> None:
    """A 4xx: nothing went out and a later attempt may succeed, so the activity raises for Temporal to retry.
    (Refused for good, a 5xx, it is held instead: tests/test_unsendable_email.py.)"""
    ledger = SentMailLedger(make_engine(settings.database))
    env = ActivityEnvironment()
    with mail_server(RefusesForNow(), settings) as refusing, pytest.raises(SMTPDataError):
        await env.run(EmailActivities(refusing, ledger).send_email, request(5))
    message_id = message_id_for("UWC-2026-MAIL01", 5, settings.message_id_domain)
    assert ledger.get(message_id) is None  # nothing went out, so nothing is held
    sent = await env.run(EmailActivities(settings, ledger).send_email, request(5))
    assert not sent.held and not sent.already_sent
    await asyncio.sleep(0.2)
    assert len([m for m in inbox.messages if m["Message-ID"] == message_id]) == 1
