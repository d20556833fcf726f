"""The email activity against a real SMTP server: rendering, threading, no duplicate on retry."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, EmailRequest
from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from persistence.database import make_engine
from persistence.sent_mail import SentMailLedger
from settings import Settings
from tests.conftest import Inbox, body_text
from web.links import verify_link


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
