"""The worker: runs every escalation workflow and the audit and email activities."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.audit import AuditActivities
from activities.email import EmailActivities
from activities.returns import ReturnActivities
from logging_setup import configure_logging
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.practice_returns import PracticeReturns
from persistence.sent_mail import SentMailLedger
from settings import Settings
from temporal_client import connect, ensure_search_attributes, metrics_runtime
from workflows.compensation_claim import CompensationClaimWorkflow
from workflows.confirmation import ConfirmationWorkflow
from workflows.deregistration import DeregistrationWorkflow
from workflows.pathology import PathologyWorkflow
from workflows.practice import PracticeWorkflow
from workflows.practice_cohort import PracticeCohortWorkflow
from workflows.unfunded_claim import UnfundedClaimWorkflow

WORKFLOWS: Sequence[type] = [
    UnfundedClaimWorkflow,
    ConfirmationWorkflow,
    PracticeWorkflow,
    PracticeCohortWorkflow,
    DeregistrationWorkflow,
    CompensationClaimWorkflow,
    PathologyWorkflow,
]
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
    }
    options.update(overrides)
    return Worker(client, **options)


async def main() -> None:
    configure_logging()
    settings = Settings()
    runtime = metrics_runtime(settings.metrics_bind) if settings.metrics_bind else None
    client = await connect(settings, runtime)
    await ensure_search_attributes(client)
    await build_worker(client, settings).run()


if __name__ == "__main__":
    asyncio.run(main())
