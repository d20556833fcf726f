"""The worker: runs every kind's workflows (from the kind registry) and the audit, email and return activities."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.audit import AuditActivities
from activities.email import EmailActivities
from activities.returns import ReturnActivities
from kinds import all_workflows
from logging_setup import configure_logging
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.practice_returns import PracticeReturns
from persistence.sent_mail import SentMailLedger
from settings import Settings
from temporal_client import connect, ensure_search_attributes, metrics_runtime

WORKFLOWS: Sequence[type] = all_workflows()
"""Every kind's workflows, from the kind registry."""
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
log = structlog.get_logger(__name__)
# Pure libraries the domain calls from workflow code; shared, not re-imported per run.
PASSTHROUGH = ("pydantic", "pydantic_core", "email_validator", "structlog")


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def build_worker(client: Client, settings: Settings, **overrides: Any) -> Worker:
    engine = make_engine(settings.database)
    audit = AuditActivities(AuditLog(engine))
    email = EmailActivities(settings, SentMailLedger(engine))
    returns = ReturnActivities(PracticeReturns(engine))
    options: dict[str, Any] = {
        "task_queue": settings.task_queue,
        "workflows": WORKFLOWS,
        "activities": [
            audit.record_audit,
            email.send_email,
            email.settle_held_email,
            returns.record_return,
            returns.load_returns,
        ],
        "activity_executor": concurrent.futures.ThreadPoolExecutor(max_workers=32),
        "max_concurrent_activities": 32,  # no more than the threads the database activities run on
        "workflow_runner": sandbox_runner(),
        # On shutdown, activities in flight get this long to finish before they are cancelled, so a
        # deploy does not cut an email off mid-send (which would leave it held for ops).
        "graceful_shutdown_timeout": GRACEFUL_SHUTDOWN,
    }
    options.update(overrides)
    return Worker(client, **options)


async def main() -> None:
    configure_logging()
    settings = Settings()
    runtime = metrics_runtime(settings.metrics_bind) if settings.metrics_bind else None
    client = await connect(settings, runtime)
    await ensure_search_attributes(client)
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # docker stop, Ctrl-C: stop polling, let work in flight finish
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    await asyncio.wait({running, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()  # the worker failed: say why
    await worker.shutdown()
    log.info("worker_stopped")


if __name__ == "__main__":
    asyncio.run(main())
