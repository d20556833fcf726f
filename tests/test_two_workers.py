"""Two workers share one task queue; one is killed at the worst moment for email: the mail server
has the message's content but has not yet answered. Everything still completes, no email reaches
the server twice and no audit row is written twice. The message the killed worker was sending is
held, and ops settle it from what the server shows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment

from domain.contacts import Role
from domain.pathology import PathologyCase
from domain.responses import ResponseInput
from mail.delivery import SmtpDelivery
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.sent_mail import MailStatus, SentMailLedger
from service import acting, held_emails, reading, starting
from settings import ROOT, Settings
from tests.conftest import Inbox, free_port
from tests.helpers import CLAIM, PATHOLOGY, example_start


@dataclass
class StallingInbox(Inbox):
    """Receives like `Inbox`, but after storing one message, the `stall_at`-th, waits for the test
    before answering, and notes which client connection was sending it."""

    stall_at: int = 9
    stalled: threading.Event = field(default_factory=threading.Event)
    go_on: threading.Event = field(default_factory=threading.Event)
    stalled_peer_port: int = 0
    stalled_message_id: str = ""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.messages) == self.stall_at and not self.stalled.is_set():
            peer = session.peer
            assert isinstance(peer, tuple)
            self.stalled_peer_port = int(peer[1])
            self.stalled_message_id = str(self.messages[-1]["Message-ID"])
            self.stalled.set()
            while not self.go_on.is_set():
                await asyncio.sleep(0.05)
        return answer


def owner_of_connection(local_port: int, pids: list[int]) -> int:
    """Which of `pids` holds the TCP socket bound to `local_port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                parts = line.split()
                if int(parts[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(f"socket:[{parts[9]}]")
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {local_port}")


def worker_setup(
    dev_env: WorkflowEnvironment, settings: Settings, queue_prefix: str, smtp_port: int
) -> tuple[dict[str, str], Settings]:
    """Environment for worker processes on a queue of their own, sending to `smtp_port`, and the
    same settings for this process."""
    queue = f"{queue_prefix}-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TASK_QUEUE": queue,
        "VAR_DIR": str(settings.var_dir),
        "SMTP_PORT": str(smtp_port),
        "LINK_SECRET": "test-link-secret",
    }
    return env, settings.model_copy(update={"task_queue": queue, "smtp_port": smtp_port})


async def start_worker(env: dict[str, str], name: str) -> asyncio.subprocess.Process:
    log = open(os.path.join(env["VAR_DIR"], f"{name}.log"), "wb")  # noqa: SIM115 - the process owns it
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), env=env, cwd=ROOT, stdout=log, stderr=log
    )


async def test_a_worker_killed_mid_send_loses_nothing_and_repeats_nothing(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    inbox = StallingInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env, local = worker_setup(dev_env, settings, "two-workers", smtp.port)
    engine = make_engine(settings.database)
    ledger, audit = SentMailLedger(engine), AuditLog(engine)
    workers = [await start_worker(env, "worker-a"), await start_worker(env, "worker-b")]
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    eid = f"PEC-KILL-{uuid.uuid4().hex[:6].upper()}"

    def held_in_family() -> list[str]:
        return [h.message_id for h in ledger.held() if h.escalation_id.startswith(eid)]

    try:
        start = starting.prepare(PATHOLOGY, local.escalation_config(), data, eid)
        await starting.start(dev_env.client, local, PATHOLOGY, start)
        assert await asyncio.to_thread(inbox.stalled.wait, 60), "the ninth email never reached the server"
        sender = owner_of_connection(inbox.stalled_peer_port, [w.pid for w in workers])
        os.kill(sender, signal.SIGKILL)  # the server has stored it; the sender never hears so
        killed = next(w for w in workers if w.pid == sender)
        await killed.wait()
        inbox.go_on.set()  # it arrived, though no worker knows

        for _ in range(180 * 4):  # the survivor takes over once the killed worker's tasks time out (30 s)
            arrived = {str(m["Message-ID"]) for m in inbox.for_case(eid, family=True)}
            if len(arrived | set(held_in_family())) >= 42 and inbox.stalled_message_id in held_in_family():
                break
            await asyncio.sleep(0.25)
        assert inbox.stalled_message_id in held_in_family()  # not sent again: held for ops

        codes = [p["ods"] for p in data["practices"]]
        for ods in codes:
            await acting.respond(
                dev_env.client,
                f"{eid}-{ods}",
                ResponseInput(
                    action="submit_return",
                    actor_email=f"pm.{ods.lower()}@nhs.example",
                    actor_role=Role.PRACTICE,
                    counts={"patients_reviewed": 2, "recall_appointments": 1, "repeat_tests": 1, "admin_hours": 0},
                ),
            )

        # Ops settle every held email from what the server shows: arrived, or send it now. The killed worker may
        # have had more than one send in flight: each is held when its step is retried, which for a payer's
        # ordinary activity comes after its timeout, so ops settle what is held until every email is settled.
        delivery = SmtpDelivery(local, ledger)
        family = [eid, *(f"{eid}-{ods}" for ods in codes), *(f"{eid}-{t}" for t in ("YEAR-END", "INCIDENT-REPORT"))]

        def unsettled() -> list[str]:
            return [r.message_id for c in family for r in ledger.for_escalation(c) if r.status != MailStatus.SENT]

        settled_ids: set[str] = set()
        for _ in range(180 * 4):
            arrived = {str(m["Message-ID"]) for m in inbox.for_case(eid, family=True)}
            for message_id in set(held_in_family()) - settled_ids:
                row = ledger.get(message_id)
                assert row is not None
                settled = await held_emails.settle_held_email(
                    dev_env.client, delivery, audit, row, message_id not in arrived, "ops@lmc.example"
                )
                assert settled == "queued"  # its escalation is running: it carries the decision out
                settled_ids.add(message_id)
            if not unsettled():
                break
            await asyncio.sleep(0.25)
        assert not unsettled() and not held_in_family()

        await acting.respond(
            dev_env.client,
            eid,
            ResponseInput(action="close_returns", actor_email="ceo@lmc.example", actor_role=Role.OFFICER),
        )
        await inbox.wait_for(f"{eid}-CLAIM", 1, timeout=60)
        view = await reading.summary(dev_env.client, eid)
        assert len(view.case_as(PathologyCase).claimed) == 40
    finally:
        for process in workers:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
        smtp.stop()

    messages: list[EmailMessage] = inbox.for_case(eid, family=True)
    sent = Counter(str(m["Message-ID"]) for m in messages)
    assert len(sent) == 44  # 40 return requests, year-end, report, "returns closed", the claim
    assert max(sent.values()) == 1, [mid for mid, n in sent.items() if n > 1]  # none twice
    assert all(ledger.get(mid).status == MailStatus.SENT for mid in sent)  # type: ignore[union-attr]

    stalled_case = ledger.get(inbox.stalled_message_id).escalation_id  # type: ignore[union-attr]
    # The email cut off is one of the incident's parts': mostly a practice's return request, sent in its cohort's
    # batch (`carry_out_openings`), sometimes a payer's first request (its own activity), whichever reached the
    # server ninth. Either way what a second worker runs again after the kill repeats none of its steps.
    parts = [*(p["ods"] for p in data["practices"]), "YEAR-END", "INCIDENT-REPORT"]
    assert stalled_case.removeprefix(f"{eid}-") in parts, stalled_case
    events = [r.event for r in audit.timeline(stalled_case)]
    assert "email_held" in events and events.index("email_held") < events.index("held_email_confirmed_arrived")
    codes = [p["ods"] for p in data["practices"]]
    for case_id in {eid, f"{eid}-{codes[0]}", f"{eid}-{codes[-1]}", f"{eid}-CLAIM", stalled_case}:
        rows = audit.timeline(case_id)
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert audit.verify(case_id).ok


async def test_a_worker_told_to_stop_mid_send_finishes_the_send_first(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """A deploy (SIGTERM) while the server is still taking an email: the send completes, nothing is held."""
    inbox = StallingInbox(stall_at=1)
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env, local = worker_setup(dev_env, settings, "stopping", smtp.port)
    worker = await start_worker(env, "worker-stopping")
    try:
        eid = await starting.start(dev_env.client, local, CLAIM, example_start(local))
        assert await asyncio.to_thread(inbox.stalled.wait, 60), "the claim's email never reached the server"
        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)
        inbox.go_on.set()
        assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        smtp.stop()
    row = SentMailLedger(make_engine(settings.database)).get(inbox.stalled_message_id)
    assert row is not None and row.status == MailStatus.SENT
    await dev_env.client.get_workflow_handle(eid).terminate(reason="test over")
