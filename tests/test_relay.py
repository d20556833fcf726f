"""Relaying news to many workflows from one activity (`activities.relay`): each target is told once however often
the activity runs, and one that has finished or never began is passed over. On the dev server, which is Temporal's
own: the time-skipping test server does not keep signals' request ids, so there a retried relay tells twice."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.relay import Relay, RelayActivities, RelayTarget


async def signals_in(client: Client, workflow_id: str) -> list[dict[str, Any]]:
    """The arguments of the signals in a workflow's history, in order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    signalled = [e.workflow_execution_signaled_event_attributes for e in history.events if e.event_type == SIGNALED]
    return [(await client.data_converter.decode(s.input.payloads, [dict]))[0] for s in signalled]


SIGNALED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED


async def test_a_relay_run_again_tells_each_target_once_and_passes_over_finished_ones(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    queue = f"relay-{uuid.uuid4()}"  # no worker polls it: the signals wait in each history, where they are counted
    ids = [f"relay-{uuid.uuid4()}" for _ in range(3)]
    for w in ids:
        await client.start_workflow("Listener", id=w, task_queue=queue, execution_timeout=timedelta(minutes=5))
    finished = ids[2]
    await client.get_workflow_handle(finished).terminate("finished before the news")
    never_started = f"relay-{uuid.uuid4()}"
    targets = [RelayTarget(workflow_id=w, arg={"deadline": "2026-12-04", "to": w}) for w in [*ids, never_started]]
    relay = Relay(relay_id=str(uuid.uuid4()), signal="heard", targets=targets)
    activities = RelayActivities(client)

    assert await ActivityEnvironment().run(activities.relay_signal, relay) == 2
    assert await ActivityEnvironment().run(activities.relay_signal, relay) == 2  # a retry after a crash
    assert [await signals_in(client, w) for w in ids] == [[targets[0].arg], [targets[1].arg], []]  # once each

    again = relay.model_copy(update={"relay_id": str(uuid.uuid4())})  # the next piece of news is news
    await ActivityEnvironment().run(activities.relay_signal, again)
    assert [len(await signals_in(client, w)) for w in ids] == [2, 2, 0]
