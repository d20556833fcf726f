"""Recorded histories must replay against the current workflow code.

A history under tests/histories/ is an escalation as an earlier version of the code ran it;
if a change to the workflows would make a running escalation take a different path, replay
fails here and the change needs `workflow.patched`. Set RECORD_HISTORIES=1 to record a
fresh one (only when adding a scenario, never to paper over a failure).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from service import acting, starting
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import CLAIM, ICB_L2, example_start, officer, payer, skip_past_deadline
from worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=workflow_runner())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer().replay_workflow(history)


async def complete_claim(env: WorkflowEnvironment, client: Client, settings: Settings, inbox: Inbox) -> str:
    """Every kind of step once: reminder, question, counter-offer, dispute, late payment, paid."""
    eid = await starting.start(client, settings, CLAIM, example_start(settings, title="Recorded complete claim"))
    await skip_past_deadline(env, eid)  # reminder for the acknowledgement
    await acting.respond(client, eid, payer("acknowledge"))
    await acting.respond(client, eid, payer("request_info", text="Which letters were fit notes?"))
    await acting.respond(client, eid, officer("supply_info", text="KLMC-1730 to KLMC-1740"))
    await acting.respond(client, eid, payer("accept_part", amount_pence=1500_00, reasons="Referrals only"))
    await acting.respond(client, eid, officer("dispute", reasons="All categories breach the contract"))
    await acting.respond(client, eid, payer("accept", email=ICB_L2))
    await skip_past_deadline(env, eid)  # payment overdue: chased
    await acting.respond(client, eid, officer("confirm_payment", amount_pence=2837_00))
    await client.get_workflow_handle(eid).result()
    await inbox.wait_for(eid, 10)
    return eid


async def replay_and_maybe_record(client: Client, workflow_id: str, name: str) -> None:
    """Replay a finished run against the current code; with RECORD_HISTORIES=1 keep it too."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    await replayer().replay_workflow(history)
    if os.environ.get("RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_a_complete_claim_replays_and_can_be_recorded(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    eid = await complete_claim(time_env, time_client, settings, inbox)
    await replay_and_maybe_record(time_client, eid, "unfunded_claim_complete")
