"""The worker: runs every kind's workflows (from the kind registry) and the audit, email and return activities."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner

from activities.audit import AuditActivities
from activities.email import EmailActivities
from activities.incident_lists import IncidentListActivities
from activities.relay import RelayActivities
from activities.returns import ReturnActivities
from activities.steps import StepActivities
from kinds import KINDS, all_workflows
from logging_setup import configure_logging
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.incident_practices import IncidentPractices
from persistence.incident_tallies import IncidentTallies
from persistence.practice_returns import PracticeReturns
from persistence.sent_mail import SentMailLedger
from service.health import readiness
from settings import Settings, load_settings
from temporal_client import connect, ensure_search_attributes, metrics_runtime

WORKFLOWS: Sequence[type] = all_workflows()
"""Every kind's workflows, from the kind registry."""
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
WORKFLOW_TASKS_AT_ONCE = 8
CACHED_WORKFLOWS = 500
log = structlog.get_logger(__name__)


def workflow_runner() -> WorkflowRunner:
    """Workflows run outside Temporal's sandbox: it guarded nothing here, and its toll was a quarter of the worker's CPU.

    Re-importing a run's modules for every run (the sandbox's way) cost about that much again at thousands of
    practices, so every module workflow code runs (the domain, the workflow modules, their libraries) had been
    passed through it, and code in a passed-through module reaches the real clock and random number generator.
    What was left was its toll: every activation, and every payload the SDK encodes or decodes, crossing into it
    (README, Benchmark). Determinism is kept by rule instead: `tests/test_workflow_rules.py` keeps clocks,
    randomness and I/O out of `workflows/`, import-linter keeps `domain/` pure, and CI replays every recorded
    history shape (`tests/test_replay.py`)."""
    return UnsandboxedWorkflowRunner()


def build_worker(client: Client, settings: Settings, **overrides: Any) -> Worker:
    engine = make_engine(settings.database)
    audit = AuditActivities(AuditLog(engine))
    email = EmailActivities(settings, SentMailLedger(engine))
    returns = ReturnActivities(PracticeReturns(engine))
    steps = StepActivities(audit, email, returns)
    lists = IncidentListActivities(IncidentPractices(engine), PracticeReturns(engine), IncidentTallies(engine))
    relays = RelayActivities(client)
    options: dict[str, Any] = {
        "task_queue": settings.task_queue,
        "workflows": WORKFLOWS,
        "activities": [
            audit.record_audit,
            email.send_email,
            email.settle_held_email,
            steps.carry_out_steps,
            steps.carry_out_openings,
            returns.record_return,
            returns.load_returns,
            *(made for spec in KINDS for made in spec.activities(settings, engine)),
            lists.load_practice_chunk,
            lists.load_returns_page,
            lists.missing_returns,
            lists.is_listed,
            lists.save_tally_page,
            lists.load_tally_page,
            relays.relay_signal,
        ],
        "activity_executor": concurrent.futures.ThreadPoolExecutor(max_workers=32),
        "max_concurrent_activities": 32,  # no more than the threads the database activities run on
        "workflow_runner": workflow_runner(),
        # Workflow code runs on one core (the GIL): a few tasks at a time each finish in milliseconds, where a
        # hundred interleaved would each take seconds and risk their timeouts. The rest wait in Temporal's
        # queue, which is what it is for. Local activities (a practice's audit and email steps) run inside
        # their task, so they are bounded alike.
        "max_concurrent_workflow_tasks": WORKFLOW_TASKS_AT_ONCE,
        "max_concurrent_local_activities": WORKFLOW_TASKS_AT_ONCE * 2,
        # Runs kept in memory between tasks. An incident's practices wait weeks between one task and the next,
        # so keeping thousands buys nothing and costs about 0.2 MB each; one evicted replays its short history.
        "max_cached_workflows": CACHED_WORKFLOWS,
        # On shutdown, activities in flight get this long to finish before they are cancelled, so a
        # deploy does not cut an email off mid-send (which would leave it held for ops).
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
    }
    options.update(overrides)
    return Worker(client, **options)


def health_app(client: Client, settings: Settings, alive: Callable[[], bool]) -> Starlette:
    """/livez: the worker is polling; /readyz: Temporal, the database and the mail server answer."""
    engine = make_engine(settings.database)

    async def livez(_: Request) -> Response:
        return JSONResponse({"alive": alive()}, status_code=200 if alive() else 503)

    async def readyz(_: Request) -> Response:
        found = await readiness(client, engine, settings.smtp_host, settings.smtp_port)
        ready = found.ready and alive()
        return JSONResponse(found.as_json(), status_code=200 if ready else 503)

    return Starlette(routes=[Route("/livez", livez), Route("/readyz", readyz)])


class _HealthServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker's SIGTERM handler decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_health(app: Starlette, bind: str) -> uvicorn.Server:
    host, _, port = bind.rpartition(":")
    server = _HealthServer(uvicorn.Config(app, host=host or "0.0.0.0", port=int(port), log_level="warning"))
    asyncio.create_task(server.serve())
    return server


async def main() -> None:
    configure_logging()
    settings = load_settings()
    runtime = metrics_runtime(settings.metrics_bind) if settings.metrics_bind else None
    client = await connect(settings, runtime)
    await ensure_search_attributes(client)
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # docker stop, Ctrl-C: stop polling, let work in flight finish
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    health = None
    if settings.health_bind:
        health = await serve_health(health_app(client, settings, lambda: not running.done()), settings.health_bind)
    await asyncio.wait({running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # the worker failed: say why
    await worker.shutdown()
    if health is not None:
        health.should_exit = True
    log.info("worker_stopped")


if __name__ == "__main__":
    asyncio.run(main())
