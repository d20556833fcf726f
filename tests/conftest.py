"""Real servers for the tests: Temporal (time-skipping and dev), SMTP (aiosmtpd), databases."""

from __future__ import annotations

import asyncio
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import hypothesis
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from settings import ROOT, Settings
from temporal_client import ensure_search_attributes
from worker import build_worker
from workflows import search_attributes as sa

# Property tests assert what is true, never how fast: no per-example deadline, and no failing because a busy
# machine (the suite shares two cores with Temporal) was slow to draw an input once.
hypothesis.settings.register_profile("suite", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile("suite")

BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = "postgresql://127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """Messages a real SMTP server received, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        self.messages.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def for_case(self, escalation_id: str, family: bool = False) -> list[EmailMessage]:
        """Emails about one case; with `family`, its child cases' too (their IDs extend its own)."""
        marker = f"[{escalation_id}" if family else f"[{escalation_id}]"
        return [m for m in self.messages if marker in str(m["Subject"])]

    async def wait_for(
        self, escalation_id: str, count: int, timeout: float = 20, family: bool = False
    ) -> list[EmailMessage]:
        for _ in range(int(timeout * 20)):
            found = self.for_case(escalation_id, family)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        got = len(self.for_case(escalation_id, family))
        raise AssertionError(f"expected {count} emails for {escalation_id}, got {got}")


class CutOffAfterData:
    """A mail server that takes a message and then loses the connection before answering: what a
    sender sees when the network or its own process fails at the worst moment."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(envelope.original_content or b"")
        assert server.transport is not None
        server.transport.close()
        return "250 OK"


@contextmanager
def mail_server(handler: object, settings: Settings) -> Iterator[Settings]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield settings.model_copy(update={"smtp_port": port})
    finally:
        controller.stop()


def body_text(message: EmailMessage, kind: str = "plain") -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="session")
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards."""
    name = f"lmc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(smtp: tuple[Inbox, int], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("var")
    return Settings(
        var_dir=var,
        config_file=ROOT / "config" / "escalations.toml",
        smtp_port=smtp[1],
        link_secret="test-link-secret",
        task_queue=f"tests-{uuid.uuid4().hex[:8]}",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


async def start_dev_server(*dynamic_config: str) -> WorkflowEnvironment:
    """The dev server as the tests run it (updates on, our search attributes), with `dynamic_config` values
    (`key=value`) besides."""
    values = ("frontend.enableUpdateWorkflowExecution=true", *dynamic_config)
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
        dev_server_extra_args=[arg for value in values for arg in ("--dynamic-config-value", value)],
    )


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_worker(time_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Worker]:
    """One worker for every time-skipping test: a worker stopping mid-run would hold the
    server's clock while the next test's worker takes over its workflows."""
    async with build_worker(time_env.client, settings) as worker:
        yield worker


@pytest.fixture
def time_client(time_env: WorkflowEnvironment, time_worker: Worker) -> Client:
    return time_env.client


@pytest.fixture(scope="session")
async def dev_worker(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Worker]:
    async with build_worker(dev_env.client, settings) as worker:
        yield worker
