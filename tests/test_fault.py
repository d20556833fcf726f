"""A small, bounded fault test (issue #20): people submit responses through the web app's link pages while
a worker process is killed mid-activity and while the Temporal server is stopped for about 20 seconds.
Every request is answered 200, a 4xx or a 503 with Retry-After (never a 500) within the web's time
budget; every submission, sent again with its own id until it is answered, is applied exactly once; no
email reaches the mail server twice; every escalation's audit chain verifies.

The test runs its own Temporal dev server (the `temporal` binary, state in a file so that it restarts
where it stopped), worker processes (`worker.py`) and mail server, so nothing it breaks is shared."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from domain.contacts import Role
from links.signing import LinkGrant, sign_link
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from service import starting
from settings import ROOT, Settings
from temporal_client import connect
from tests.conftest import BIN, Inbox, free_port
from tests.helpers import CLAIM, ICB_L1, example_start
from web import temporal_budget
from web.app import create_app
from workflows import search_attributes as sa

BUDGET = 5.0  # the web's Temporal budget for this test (10 s in production), to keep it short
SLACK = 3.0  # for the page around the Temporal calls, on a busy 2-core machine
ESCALATIONS = 3


@dataclass
class DevServer:
    """The Temporal dev server as a process of its own, stopped and started again on its state file."""

    db: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start it on `port`, its HTTP and metrics ports fresh each time. A start that dies at once (a port taken
        between `free_port` and the server's bind: it panics building its HTTP server) is tried again, up to
        three times, on other HTTP and metrics ports; the gRPC port stays, as clients know it."""
        for _ in range(3):
            if await self._started_once():
                return
        raise AssertionError(f"the dev server did not start: {self.log.read_text()[-2000:]}")

    async def _started_once(self) -> bool:
        attributes = [arg for key in sa.ALL for arg in ("--search-attribute", f"{key.name}={key._metadata_type}")]
        out = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            str(BIN / "temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
            "--port", str(self.port), "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--db-filename", str(self.db),
            "--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true", *attributes,
            stdout=out, stderr=out,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.returncode is None:
            try:
                client = await connect(Settings(temporal_address=self.address, _env_file=None))  # type: ignore[call-arg]
                await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timedelta(seconds=2))
                return True
            except Exception:  # noqa: BLE001 - not up yet
                await asyncio.sleep(0.3)
        await self.stop(crash=True)
        return False

    async def stop(self, crash: bool = False) -> None:
        """Stop it: told to (SIGTERM), or as a crash would (SIGKILL); its state file keeps what it had."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 20)


class SlowInbox(Inbox):
    """Receives every message, after a moment: so an email activity is in flight long enough to be cut off."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients_seen = asyncio.Event()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:  # noqa: N802
        envelope.rcpt_tos.append(address)
        self.recipients_seen.set()
        return "250 OK"


@dataclass
class Requests:
    """Every request the people made, with its answer and how long it took."""

    seen: list[tuple[str, int, float]] = field(default_factory=list)

    def note(self, what: str, answer: httpx.Response, took: float) -> None:
        self.seen.append((what, answer.status_code, took))
        assert answer.status_code == 200 or 400 <= answer.status_code < 500 or answer.status_code == 503, (
            what,
            answer.status_code,
            answer.text[:500],
        )
        if answer.status_code == 503:
            assert answer.headers.get("retry-after") == "60", what
            assert answer.request.method == "GET" or "Nothing you typed is lost" in answer.text, answer.text[:500]
        assert took < BUDGET + SLACK, (what, took)


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[DevServer, Settings, SlowInbox, dict[str, str]]]:
    server = DevServer(db=tmp_path / "temporal.db", log=tmp_path / "temporal.log")
    await server.start()
    inbox = SlowInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    local = Settings(
        var_dir=tmp_path,
        config_file=ROOT / "config" / "escalations.toml",
        smtp_port=smtp.port,
        link_secret="test-link-secret",
        temporal_address=server.address,
        task_queue=f"fault-{uuid.uuid4().hex[:6]}",
        _env_file=None,  # type: ignore[call-arg]
    )
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": server.address,
        "TASK_QUEUE": local.task_queue,
        "VAR_DIR": str(tmp_path),
        "SMTP_PORT": str(smtp.port),
        "LINK_SECRET": "test-link-secret",
    }
    try:
        yield server, local, inbox, env
    finally:
        smtp.stop()
        await server.stop()


async def start_worker(env: dict[str, str], name: str) -> asyncio.subprocess.Process:
    log = open(os.path.join(env["VAR_DIR"], f"{name}.log"), "wb")  # noqa: SIM115 - the process owns it
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), env=env, cwd=ROOT, stdout=log, stderr=log
    )


async def test_responses_while_a_worker_is_killed_and_temporal_is_stopped_are_each_applied_once(
    servers: tuple[DevServer, Settings, SlowInbox, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, local, inbox, env = servers
    monkeypatch.setattr(temporal_budget, "REQUEST_BUDGET", BUDGET)
    began = time.monotonic()
    audit = AuditLog(make_engine(local.database))
    workers = [await start_worker(env, "worker-1")]
    client = await connect(local)
    eids = [await starting.start(client, local, CLAIM, example_start(local)) for _ in range(ESCALATIONS)]
    for eid in eids:
        await inbox.wait_for(eid, 1, timeout=30)

    def link(eid: str) -> str:
        grant = LinkGrant(eid, ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
        return f"/r/{sign_link(local.link_keys, grant)}"

    requests = Requests()
    app = create_app(local)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as web:

        async def submit(eid: str, action: str, submission: str, **fields: str) -> httpx.Response:
            started = time.monotonic()
            answer = await web.post(link(eid), data={"action": action, "submission": submission, **fields})
            requests.note(f"{eid} {action}", answer, time.monotonic() - started)
            return answer

        async def until_recorded(eid: str, action: str, submission: str, **fields: str) -> None:
            """Send the same form again, as a person told "try again" would, until it is answered."""
            for _ in range(12):
                answer = await submit(eid, action, submission, **fields)
                if answer.status_code == 200:
                    assert "Recorded." in answer.text, answer.text[:800]
                    return
                assert answer.status_code == 503, answer.text[:800]
                await asyncio.sleep(1)
            raise AssertionError(f"{action} on {eid} was never answered")

        acknowledge = {eid: f"ack-{uuid.uuid4().hex[:12]}" for eid in eids}
        reject = {eid: f"rej-{uuid.uuid4().hex[:12]}" for eid in eids}

        # 1. A worker killed mid-activity: the first acknowledgement's email is on its way to the server.
        inbox.recipients_seen.clear()
        first = asyncio.create_task(submit(eids[0], "acknowledge", acknowledge[eids[0]]))
        await asyncio.wait_for(inbox.recipients_seen.wait(), 15)  # the email activity is talking to SMTP
        os.kill(workers[0].pid, signal.SIGKILL)
        await workers[0].wait()
        others = [submit(eid, "acknowledge", acknowledge[eid]) for eid in eids[1:]]  # no worker at all now
        replacement = asyncio.create_task(start_worker(env, "worker-2"))  # starting takes seconds: meanwhile
        answers = await asyncio.gather(first, *others)
        assert all(a.status_code in (200, 503) for a in answers[1:]), [a.status_code for a in answers]
        workers.append(await replacement)
        for eid in eids:  # the same forms again (the first may have been answered already: it answers again)
            await until_recorded(eid, "acknowledge", acknowledge[eid])

        # 2. The Temporal server stopped for about 20 seconds: every form is answered 503, filled in.
        stopped_at = time.monotonic()
        await server.stop(crash=True)

        async def show(eid: str) -> None:
            started = time.monotonic()
            page = await web.get(link(eid))
            requests.note("link page", page, time.monotonic() - started)
            assert page.status_code == 503

        while time.monotonic() - stopped_at < 20:  # people keep trying: each is told, none is kept waiting
            tried = [submit(eid, "reject", reject[eid], reasons="Not commissioned by us") for eid in eids]
            for answer in await asyncio.gather(*tried, show(eids[0])):
                assert answer is None or (
                    answer.status_code == 503 and "Not commissioned by us</textarea>" in answer.text
                )
        await server.start()
        if workers[-1].returncode is not None:  # a worker that gave up while it was gone is restarted
            workers.append(await start_worker(env, "worker-3"))
        for eid in eids:
            await until_recorded(eid, "reject", reject[eid], reasons="Not commissioned by us")
            await until_recorded(eid, "reject", reject[eid], reasons="Not commissioned by us")  # a double click

        # Everything settles: the cut-off activity is retried once its 30 s timeout passes.
        for _ in range(60 * 4):
            so_far = [[r.event for r in audit.timeline(eid)] for eid in eids]
            if all(e.count("email_sent") + e.count("email_held") >= 3 for e in so_far):
                break
            await asyncio.sleep(0.25)

    for process in workers:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
    for eid in eids:
        events = [r.event for r in audit.timeline(eid)]
        assert events.count("response:acknowledge") == 1, events  # exactly once, resubmissions included
        assert events.count("response:reject") == 1, events
        assert events.count("email_sent") + events.count("email_held") >= 3, events
        rows = audit.timeline(eid)
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert audit.verify(eid).ok
        await client.get_workflow_handle(eid).terminate(reason="test over")
    arrived = Counter(str(m["Message-ID"]) for m in inbox.messages)
    assert max(arrived.values()) == 1, arrived  # no email twice
    assert {status for _, status, _ in requests.seen} <= {200, 503}, requests.seen
    assert sum(status == 503 for _, status, _ in requests.seen) >= ESCALATIONS * 2
    assert time.monotonic() - began < 120
