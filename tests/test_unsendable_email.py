"""An email that can never be built or sent as it is (issue #12: a title with a line break in it) is held
for ops with its reason instead of being retried forever; the officer is told once; the escalation's
clocks keep running. A failure a retry may cure (4xx) still raises so Temporal retries it.

Against real servers: aiosmtpd mail servers that refuse what each test needs, SQLite and PostgreSQL,
and the time-skipping Temporal test server for the escalation end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import psycopg
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from aiosmtplib import SMTPDataError, SMTPRecipientRefused
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text
from sqlmodel import create_engine
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.email import EmailActivities, EmailRequest, EmailSent, SettleHeldEmail, names
from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from mail.compose import HELD_NOTICE, message_id_for, notice_id_for
from persistence.audit_log import AuditLog
from persistence.database import MIGRATIONS, make_engine
from persistence.sent_mail import MailStatus, SentEmail, SentMailLedger
from service import starting
from settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, body_text, mail_server
from tests.helpers import CLAIM, ICB_L1, OFFICER, example_start, running_worker, skip_past_deadline

PAYER = Contact(name="Ian Ayres", title="Contracts", email="primarycare.contracts@kmicb.example")
THE_OFFICER = Contact(name="Carlo Rossi", title="CEO", email=OFFICER)
CHAIR = Contact(name="Dr Amina Shah", title="LMC Chair", email="chair@lmc.example")
REFUSED = "550 5.1.1 No such user here"


class Picky:
    """A mail server that refuses the addresses it is told to (at RCPT), or every message (at DATA),
    and records every address it was asked about and every message it took."""

    def __init__(self, refuse: dict[str, str] | None = None, data_reply: str | None = None) -> None:
        self.refuse = refuse or {}
        self.data_reply = data_reply
        self.asked: list[str] = []
        self.taken: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        self.asked.append(address.lower())
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_reply is not None:
            return self.data_reply
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        self.taken.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def with_id(self, message_id: str) -> list[tuple[list[str], EmailMessage]]:
        return [(rcpt, m) for rcpt, m in self.taken if m["Message-ID"] == message_id]


def request(
    to: Contact = PAYER,
    cc: list[Contact] | None = None,
    subject: str = "Claim for unfunded work",
    role: Role = Role.PAYER,
    officer: Contact | None = None,
) -> EmailRequest:
    """An email in a fresh escalation, built directly: no gate between it and the activity."""
    escalation_id = f"UWC-2026-{uuid.uuid4().hex[:6].upper()}"
    return EmailRequest(
        escalation_id=escalation_id,
        step=1,
        sent_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        effect=EmailEffect(
            purpose="submitted",
            to=to,
            to_role=role,
            cc=[THE_OFFICER] if cc is None else cc,
            subject=f"[{escalation_id}] {subject}",
            headline=subject,
            paragraphs=["Please acknowledge."],
            actions=["acknowledge"] if role is Role.PAYER else [],
        ),
        action_labels={"acknowledge": "Acknowledge receipt"},
        officer=officer,
    )


@pytest.fixture
def ledger(settings: Settings) -> SentMailLedger:
    return SentMailLedger(make_engine(settings.database))


def notice_of(picky: Picky, held: EmailSent) -> list[tuple[list[str], EmailMessage]]:
    return picky.with_id(notice_id_for(held.message_id))


async def test_a_subject_with_a_line_break_is_held_with_its_reason_and_the_officer_told_once(
    settings: Settings, ledger: SentMailLedger
) -> None:
    email = request(subject="Claim for\r\nBcc: everyone@kmicb.example")
    env = ActivityEnvironment()
    picky = Picky()
    with mail_server(picky, settings) as local:
        activities = EmailActivities(local, ledger)
        first = await env.run(activities.send_email, email)  # no exception: nothing for Temporal to retry
        again = await env.run(activities.send_email, email)
    assert first.held and again.held and not first.already_sent
    assert (
        first.held_reason
        == again.held_reason
        == ("its subject contains a line break, which an email header cannot carry")
    )
    row = ledger.get(first.message_id)
    assert row is not None and row.status == MailStatus.HELD and row.held_reason == first.held_reason
    assert row.raw is None  # it could never be built: nothing to send as stored
    assert first.message_id in {h.message_id for h in ledger.held()}  # on ops' list

    assert not picky.with_id(first.message_id) and PAYER.email not in picky.asked  # no SMTP traffic for it
    [(to, notice)] = notice_of(picky, first)  # told once, though the activity ran twice
    assert to == [OFFICER] and picky.asked == [OFFICER] and len(picky.taken) == 1
    assert notice["Subject"] == f"[{email.escalation_id}] An email could not be sent"
    text_body = " ".join(body_text(notice).split())
    assert f"[{email.escalation_id}] Claim for Bcc: everyone@kmicb.example" in text_body
    assert "to Ian Ayres (primarycare.contracts@kmicb.example), copied to ceo@lmc.example" in text_body
    assert "Why: its subject contains a line break, which an email header cannot carry." in text_body
    assert "will send it once it is corrected" in text_body and "/r/" not in text_body  # no link in a notice
    notice_row = ledger.get(notice_id_for(first.message_id))
    assert notice_row is not None and notice_row.status == MailStatus.SENT and notice_row.purpose == HELD_NOTICE

    # Ops: "send it" cannot send what was never built; it stays held with its reason. "Do not send" settles it.
    settle = SettleHeldEmail(message_id=first.message_id, send=True, by="ops@lmc.example")
    assert await env.run(EmailActivities(settings, ledger).settle_held_email, settle) == "held"
    assert ledger.get(first.message_id).held_reason == first.held_reason  # type: ignore[union-attr]
    dismiss = SettleHeldEmail(message_id=first.message_id, send=False, by="ops@lmc.example")
    assert await env.run(EmailActivities(settings, ledger).settle_held_email, dismiss) == "confirmed"


async def test_the_only_recipient_refused_for_good_is_held_not_retried(
    settings: Settings, ledger: SentMailLedger
) -> None:
    email = request(cc=[], officer=THE_OFFICER)
    env = ActivityEnvironment()
    picky = Picky(refuse={PAYER.email: REFUSED})
    with mail_server(picky, settings) as local:
        activities = EmailActivities(local, ledger)
        held = await env.run(activities.send_email, email)
        again = await env.run(activities.send_email, email)
    assert held.held and again.held and held.refused == [PAYER.email]
    assert held.held_reason == f"the mail server refused {PAYER.email} ({REFUSED}) for good"
    assert picky.asked.count(PAYER.email) == 1  # the second run did not go back to the server for it
    assert not picky.with_id(held.message_id)
    row = ledger.get(held.message_id)
    assert row is not None and row.status == MailStatus.HELD and row.held_reason == held.held_reason
    assert row.raw is not None and "Claim for unfunded work" in row.raw  # kept, to send as it is once corrected
    [(to, notice)] = notice_of(picky, held)
    assert to == [OFFICER] and "Why: the mail server refused" in " ".join(body_text(notice).split())

    # The address is corrected at the mail server: ops send it as stored, once; its reason is cleared.
    settle = SettleHeldEmail(message_id=held.message_id, send=True, by="ops@lmc.example")
    fixed = Picky()
    with mail_server(fixed, settings) as local:
        assert await env.run(EmailActivities(local, ledger).settle_held_email, settle) == "sent"
        assert await env.run(EmailActivities(local, ledger).settle_held_email, settle) == "not_held"
    [(to, message)] = fixed.taken
    assert to == [PAYER.email] and message["Message-ID"] == held.message_id
    row = ledger.get(held.message_id)
    assert row is not None and row.status == MailStatus.SENT and row.held_reason is None


async def test_the_payers_address_refused_for_good_holds_the_email_and_its_cc_is_told_not_sent_it(
    settings: Settings, ledger: SentMailLedger
) -> None:
    email = request()  # the officer copied first, as on every payer email
    picky = Picky(refuse={PAYER.email: REFUSED})
    with mail_server(picky, settings) as local:
        held = await ActivityEnvironment().run(EmailActivities(local, ledger).send_email, email)
    assert held.held and held.refused == [PAYER.email]
    assert not picky.with_id(held.message_id)  # not sent to its Cc alone: the email is for the payer
    [(to, _)] = notice_of(picky, held)
    assert to == [OFFICER] and len(picky.taken) == 1


async def test_a_cc_refused_for_good_does_not_stop_the_others_getting_it(
    settings: Settings, ledger: SentMailLedger
) -> None:
    email = request(cc=[THE_OFFICER, CHAIR])
    picky = Picky(refuse={CHAIR.email: REFUSED})
    with mail_server(picky, settings) as local:
        sent = await ActivityEnvironment().run(EmailActivities(local, ledger).send_email, email)
    assert not sent.held and not sent.already_sent and sent.refused == [CHAIR.email]
    [(to, message)] = picky.taken
    assert to == [PAYER.email, OFFICER] and message["Message-ID"] == sent.message_id
    assert CHAIR.email in str(message["Cc"])  # the message as written; the envelope left the chair out
    row = ledger.get(sent.message_id)
    assert row is not None and row.status == MailStatus.SENT
    assert row.held_reason == f"sent, but the mail server refused {CHAIR.email} ({REFUSED}) for good"


async def test_a_message_refused_for_good_is_held_with_the_servers_reply(
    settings: Settings, ledger: SentMailLedger
) -> None:
    email = request()
    env = ActivityEnvironment()
    picky = Picky(data_reply="554 5.7.1 Refused by policy")
    with mail_server(picky, settings) as local:
        held = await env.run(EmailActivities(local, ledger).send_email, email)
        again = await env.run(EmailActivities(local, ledger).send_email, email)
    assert held.held and again.held
    assert held.held_reason == "the mail server refused the message for good (554 5.7.1 Refused by policy)"
    assert picky.asked.count(PAYER.email) == 1  # claimed, refused, held: never offered again
    row = ledger.get(held.message_id)
    assert row is not None and row.status == MailStatus.HELD and row.raw is not None
    # The notice is refused by the same policy: held in its turn, and no notice is sent about a notice.
    notice = ledger.get(notice_id_for(held.message_id))
    assert notice is not None and notice.status == MailStatus.HELD and notice.purpose == HELD_NOTICE
    assert len(ledger.for_escalation(email.escalation_id)) == 2


async def test_the_officer_is_not_told_about_an_email_that_could_not_reach_them(
    settings: Settings, ledger: SentMailLedger
) -> None:
    to_officer = request(to=THE_OFFICER, cc=[], role=Role.OFFICER)
    broken_officer = Contact.model_construct(name="Carlo\nRossi", title="CEO", email=OFFICER)  # past the gate
    copying_a_broken_officer = request(cc=[broken_officer])
    env = ActivityEnvironment()
    picky = Picky(refuse={OFFICER: REFUSED})
    with mail_server(picky, settings) as local:
        activities = EmailActivities(local, ledger)
        refused = await env.run(activities.send_email, to_officer)
        broken = await env.run(activities.send_email, copying_a_broken_officer)
    assert refused.held and refused.held_reason is not None and OFFICER in refused.held_reason
    assert broken.held and broken.held_reason == (
        f"the name given for {OFFICER} contains a line break, which an email header cannot carry"
    )
    assert picky.asked == [OFFICER] and not picky.taken  # asked once, for the email itself: no notice, no loop
    for held in (refused, broken):
        assert ledger.get(notice_id_for(held.message_id)) is None


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_a_refusal_for_now_still_raises_so_temporal_retries(
    stage: str, settings: Settings, ledger: SentMailLedger
) -> None:
    email = request()
    message_id = message_id_for(email.escalation_id, 1, settings.message_id_domain)
    for_now = "451 4.3.0 Try again later"
    picky = Picky(refuse={PAYER.email: for_now}) if stage == "rcpt" else Picky(data_reply=for_now)
    with (
        mail_server(picky, settings) as local,
        pytest.raises(SMTPRecipientRefused if stage == "rcpt" else SMTPDataError),
    ):
        await ActivityEnvironment().run(EmailActivities(local, ledger).send_email, email)
    assert ledger.get(message_id) is None  # nothing went out and nothing is held: the retry sends it afresh
    accepting = Picky()
    with mail_server(accepting, settings) as local:
        sent = await ActivityEnvironment().run(EmailActivities(local, ledger).send_email, email)
    assert not sent.held and [m["Message-ID"] for _, m in accepting.taken] == [message_id]


def test_a_reason_names_an_address_only_whole() -> None:
    reason = "the mail server refused deputy.ceo@lmc.example (550 No) for good"
    assert not names(reason, "ceo@lmc.example") and not names(reason, "deputy.ceo@lmc.ex")
    assert names(reason, "deputy.ceo@lmc.example") and names("refused CEO@lmc.example.", "ceo@lmc.example")


# --- the ledger and its migration, on SQLite and PostgreSQL ---------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database no migration has run on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('held') / 'held.db'}"
        return
    name = f"lmc_held_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(engine: Engine, to: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, to)


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("sent_email")}


def test_the_held_reason_migration_goes_up_and_down(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        _migrate(engine, "0004")
        with engine.begin() as conn:  # held before reasons existed: a send cut off, so no reason
            conn.execute(
                text(
                    "INSERT INTO sent_email (message_id, escalation_id, purpose, recipient, subject, sent_at, status)"
                    " VALUES ('<UWC-OLD.1@x>', 'UWC-OLD', 'submitted', 'a@b.example', 's', CURRENT_TIMESTAMP, 'held')"
                )
            )
        _migrate(engine, "0005")
        assert "held_reason" in _columns(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT held_reason FROM sent_email")).scalar_one() is None
        _migrate(engine, "0004", down=True)
        assert "held_reason" not in _columns(engine)
        _migrate(engine, "0005")
        assert "held_reason" in _columns(engine)
    finally:
        engine.dispose()


def test_the_ledger_keeps_reasons_through_every_change_of_status(empty_database: str) -> None:
    engine = make_engine(empty_database)  # to the newest revision
    ledger = SentMailLedger(engine)

    def row(message_id: str) -> SentEmail:
        return SentEmail(
            message_id=message_id, escalation_id="UWC-LEDGER", purpose="p", recipient="a@b.example", subject="s\r\nt"
        )

    try:
        assert ledger.hold_unsendable(row("<u@x>"), "its subject contains a line break")
        assert not ledger.hold_unsendable(row("<u@x>"), "again")  # recorded once
        held = ledger.get("<u@x>")
        assert held is not None and held.status == MailStatus.HELD and held.subject == "s\r\nt"
        assert held.held_reason == "its subject contains a line break"

        assert ledger.begin_sending(row("<r@x>"))
        assert ledger.refuse("<r@x>", "refused for good") and not ledger.refuse("<r@x>", "twice")
        assert ledger.take_held("<r@x>") is not None
        assert ledger.put_back("<r@x>")  # ops' send refused for now: held as it was
        assert ledger.get("<r@x>").held_reason == "refused for good"  # type: ignore[union-attr]
        assert ledger.note_refusal("<r@x>", "refused again")
        assert ledger.take_held("<r@x>") is not None and ledger.hold("<r@x>")  # cut off: it may have arrived
        assert ledger.get("<r@x>").held_reason is None  # type: ignore[union-attr]
        assert ledger.take_held("<r@x>") is not None
        ledger.mark_sent("<r@x>", True, "sent, but not to c@d.example")
        ledger.mark_sent("<r@x>")  # a retry's word that it was accepted leaves the note as it is
        sent = ledger.get("<r@x>")
        assert (
            sent is not None and sent.status == MailStatus.SENT and sent.held_reason == "sent, but not to c@d.example"
        )
        assert [h.message_id for h in ledger.held()] == ["<u@x>"]
    finally:
        engine.dispose()


# --- end to end: the escalation carries on ------------------------------------------------------------------


async def _until(check: Callable[[], bool], timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not reached in time")


async def test_a_payer_refused_for_good_leaves_the_escalation_running_to_its_deadline(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings
) -> None:
    picky = Picky(refuse={ICB_L1: REFUSED})
    with mail_server(picky, settings) as local:
        local = local.model_copy(update={"task_queue": f"unsendable-{uuid.uuid4().hex[:8]}"})  # this server only
        audit = AuditLog(make_engine(local.database))
        ledger = SentMailLedger(make_engine(local.database))
        async with running_worker(time_env.client, local):
            eid = await starting.start(time_env.client, local, CLAIM, example_start(local))
            handle = time_env.client.get_workflow_handle(eid)
            try:

                def events() -> list[str]:
                    return [r.event for r in audit.timeline(eid)]

                await _until(lambda: "email_held" in events())
                [opening] = [r for r in audit.timeline(eid) if r.event == "email_held"]
                assert opening.detail["to"] == ICB_L1
                held = ledger.get(opening.detail["message_id"])
                assert held is not None and held.status == MailStatus.HELD and ICB_L1 in (held.held_reason or "")
                await _until(lambda: len(picky.taken) == 1)
                [(to, notice)] = picky.taken
                assert to == [OFFICER] and notice["Message-ID"] == notice_id_for(held.message_id)

                await skip_past_deadline(time_env, eid)  # the acknowledgement deadline still runs, and fires
                await _until(lambda: events().count("email_held") == 2)
                assert "deadline_missed" in events()
                reminder = [r for r in audit.timeline(eid) if r.event == "email_held"][-1]
                assert reminder.detail["purpose"].startswith("reminder") and reminder.detail["to"] == ICB_L1
                assert ICB_L1 not in [a for rcpt, _ in picky.taken for a in rcpt]  # attempted, never sent
                await _until(lambda: len(picky.taken) == 2)  # the officer is told about the reminder too
                assert audit.verify(eid).ok
            finally:
                await handle.terminate("test over")  # no run left behind for the shared test server's clock
