"""Liveness and readiness the orchestrator polls: ready only when Temporal, the database and the mail
server each answer, and a part that does not is named; never a hung probe."""

from __future__ import annotations

import time

import httpx
from temporalio.testing import WorkflowEnvironment

from persistence.database import make_engine
from service.health import readiness
from settings import Settings
from tests.conftest import free_port
from worker import health_app


async def probe(app: object, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:  # type: ignore[arg-type]
        return await http.get(path)


async def test_the_worker_is_ready_when_every_part_answers(dev_env: WorkflowEnvironment, settings: Settings) -> None:
    ready = await probe(health_app(dev_env.client, settings, lambda: True), "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "parts": {"database": "ok", "mail": "ok", "temporal": "ok"}}
    assert (await probe(health_app(dev_env.client, settings, lambda: True), "/livez")).status_code == 200


async def test_a_part_that_does_not_answer_is_named_and_the_probe_does_not_hang(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    no_mail = settings.model_copy(update={"smtp_port": free_port()})
    started = time.monotonic()
    answer = await probe(health_app(dev_env.client, no_mail, lambda: True), "/readyz")
    assert answer.status_code == 503 and answer.json()["parts"]["mail"].startswith("unreachable")
    assert answer.json()["parts"]["temporal"] == "ok" and time.monotonic() - started < 5
    stopped = await probe(health_app(dev_env.client, settings, lambda: False), "/livez")
    assert stopped.status_code == 503


async def test_readiness_without_temporal_says_so(settings: Settings) -> None:
    found = await readiness(None, make_engine(settings.database), settings.smtp_host, settings.smtp_port)
    assert not found.ready and found.parts["temporal"] == "not connected" and found.parts["database"] == "ok"
