"""The worker's Prometheus endpoint: the SDK's metrics and ours (statuses, emails, missed deadlines)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from temporal_client import ensure_search_attributes, metrics_runtime
from tests.conftest import Inbox, free_port
from tests.helpers import example_start, skip_past_deadline
from worker import build_worker


async def test_metrics_are_served_for_prometheus(settings: Settings, inbox: Inbox) -> None:
    port = free_port()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=metrics_runtime(f"127.0.0.1:{port}"),
    )
    try:
        await ensure_search_attributes(env.client)
        async with build_worker(env.client, settings, task_queue="metrics"):
            start = example_start(settings)
            await env.client.start_workflow("UnfundedClaim", start, id=start.escalation_id, task_queue="metrics")
            await inbox.wait_for(start.escalation_id, 1)
            await skip_past_deadline(env, start.escalation_id)
            await inbox.wait_for(start.escalation_id, 2)
            await env.sleep(timedelta(seconds=1))
            async with httpx.AsyncClient() as http:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        await env.shutdown()
    assert "lmc_emails_sent" in text and 'purpose="submitted"' in text
    assert "lmc_deadlines_missed" in text and 'kind="unfunded_claim"' in text
    assert "lmc_escalation_status_entered" in text
    assert "temporal_workflow_task" in text or "temporal_request" in text  # the SDK's own
