"""Encrypted payloads: round trip, rotation, refusal without the key, and replay both ways."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from payload_codec import ENCODING, EncryptionCodec, KeyUnavailable, data_converter, parse_keys
from service import acting
from service.refusals import Refused
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import example_start, officer
from worker import WORKFLOWS, build_worker, workflow_runner

HISTORIES = Path(__file__).parent / "histories"


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_round_trip_rotation_and_refusal() -> None:
    old, new = key(), key()
    before = EncryptionCodec(parse_keys(f"k1:{old}"), "k1")
    after = EncryptionCodec(parse_keys(f"k2:{new},k1:{old}"), "k2")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"title": "uACR error"}')
    [sealed] = await before.encode([plain])
    assert sealed.metadata["encoding"] == ENCODING and b"uACR" not in sealed.data
    assert await after.decode([sealed]) == [plain]  # an old key still opens old payloads
    [resealed] = await after.encode([plain])
    assert resealed.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(KeyUnavailable, match="k2"):
        await before.decode([resealed])
    assert await after.decode([plain]) == [plain]  # unencrypted payloads pass through
    with pytest.raises(ValueError, match="PAYLOAD_KEYS"):
        parse_keys("short:" + base64.b64encode(b"too short").decode())


async def test_unencrypted_histories_replay_with_encryption_switched_on() -> None:
    converter = data_converter(f"k1:{key()}", "k1")
    replayer = Replayer(workflows=WORKFLOWS, data_converter=converter, workflow_runner=workflow_runner())
    path = HISTORIES / "unfunded_claim_complete.json"
    await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))


async def test_an_encrypted_claim_runs_and_replays_only_with_its_key(settings: Settings, inbox: Inbox) -> None:
    secret = f"k1:{key()}"
    converter = data_converter(secret, "k1")
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"), data_converter=converter
    )
    try:
        from temporal_client import ensure_search_attributes

        await ensure_search_attributes(env.client)
        async with build_worker(env.client, settings, task_queue="encrypted"):
            start = example_start(settings)
            await env.client.start_workflow("UnfundedClaim", start, id=start.escalation_id, task_queue="encrypted")
            await inbox.wait_for(start.escalation_id, 1)
            refused = officer("accept_offer")
            with pytest.raises(Refused, match="not open"):
                await acting.respond(env.client, start.escalation_id, refused)
            await acting.respond(env.client, start.escalation_id, officer("withdraw", reasons="encrypted test"))
            await env.client.get_workflow_handle(start.escalation_id).result()
            history = await env.client.get_workflow_handle(start.escalation_id).fetch_history()
    finally:
        await env.shutdown()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == ENCODING and b"Inappropriate work transfer" not in started.data
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled and all(a.input.payloads[0].metadata["encoding"] == ENCODING for a in scheduled)
    await Replayer(workflows=WORKFLOWS, data_converter=converter, workflow_runner=workflow_runner()).replay_workflow(
        history
    )
    stranger = data_converter(f"k9:{key()}", "k9")
    result = await Replayer(
        workflows=WORKFLOWS, data_converter=stranger, workflow_runner=workflow_runner()
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
