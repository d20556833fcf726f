"""The held-email path reached by a real crash (issue #20): the mail server has taken an email's content,
and the worker process sending it is killed before the server answers, so neither the ledger nor a
heartbeat says how the send ended. A new worker retries the activity: it does not send again, it holds
the email for ops, and the escalation audits `email_held`; ops record that it arrived. One copy reached
the server, first to last."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment

from mail.delivery import SmtpDelivery
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.sent_mail import MailStatus, SentMailLedger
from service import held_emails, starting
from settings import Settings
from tests.conftest import Inbox, free_port
from tests.helpers import CLAIM, example_start
from tests.test_two_workers import start_worker, worker_setup


class KillsTheSender(Inbox):
    """Stores the first message, then kills the worker that sent it before answering 250."""

    def __init__(self) -> None:
        super().__init__()
        self.worker_pid = 0
        self.killed = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        if not self.killed:
            self.killed = True
            os.kill(self.worker_pid, signal.SIGKILL)  # it has the message; its sender never hears so
            await asyncio.sleep(0.5)
        return answer


async def test_a_worker_killed_after_the_server_took_the_email_leaves_it_held_not_sent_twice(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    inbox = KillsTheSender()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env, local = worker_setup(dev_env, settings, "held-crash", smtp.port)
    engine = make_engine(settings.database)
    ledger, audit = SentMailLedger(engine), AuditLog(engine)
    first = await start_worker(env, "held-crash-1")
    inbox.worker_pid = first.pid or 0
    workers = [first]
    try:
        eid = await starting.start(dev_env.client, local, CLAIM, example_start(local))
        [email] = await inbox.wait_for(eid, 1, timeout=30)
        assert await asyncio.wait_for(first.wait(), 10) == -signal.SIGKILL
        message_id = str(email["Message-ID"])
        cut_off = ledger.get(message_id)
        assert cut_off is not None and cut_off.status == MailStatus.SENDING  # claimed; how it ended, unknown

        workers.append(await start_worker(env, "held-crash-2"))  # takes over once the attempt times out (30 s)
        deadline = time.monotonic() + 60
        while "email_held" not in [r.event for r in audit.timeline(eid)] and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        held = ledger.get(message_id)
        assert held is not None and held.status == MailStatus.HELD and held.held_reason is None, held
        assert message_id in {h.message_id for h in ledger.held()}  # on ops' list on the dashboard
        assert "email_held" in [r.event for r in audit.timeline(eid)]

        # Ops see it in the server's log: it arrived. Recorded, audited by the escalation, never sent again.
        settled = await held_emails.settle_held_email(
            dev_env.client, SmtpDelivery(local, ledger), audit, held, False, "ops@lmc.example"
        )
        assert settled == "queued"
        while "held_email_confirmed_arrived" not in [r.event for r in audit.timeline(eid)]:
            assert time.monotonic() < deadline + 15
            await asyncio.sleep(0.25)
        await asyncio.sleep(1)
    finally:
        for process in workers:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
        smtp.stop()
    assert Counter(str(m["Message-ID"]) for m in inbox.for_case(eid)) == {message_id: 1}  # once, first to last
    row = ledger.get(message_id)
    assert row is not None and row.status == MailStatus.SENT
    assert audit.verify(eid).ok
    await dev_env.client.get_workflow_handle(eid).terminate(reason="test over")
