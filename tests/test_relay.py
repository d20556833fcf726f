"""Relaying news to many workflows from one activity (`activities.relay`): each target is told once however often
the activity runs, and one that has finished or never began is passed over. On the dev server, which is Temporal's
own: the time-skipping test server does not keep signals' request ids, so there a retried relay tells twice."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.relay import Relay, RelayActivities, RelayTarget
from workflows.children import RELAY_BATCH, RELAY_BYTES, relay_batches
from workflows.practice import PracticeWorkflow
from workflows.practice_cohort import PracticeCohortWorkflow


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


@given(
    st.lists(
        st.dictionaries(st.text(max_size=3), st.text(max_size=40_000), max_size=4).map(
            lambda arg: RelayTarget(workflow_id="W", arg=arg)
        ),
        max_size=160,
    )
)
@settings(max_examples=60, deadline=None)
def test_relay_batches_keep_every_target_in_order_and_each_batch_bounded(targets: list[RelayTarget]) -> None:
    batches = relay_batches(targets)
    assert [t for batch in batches for t in batch] == targets
    for batch in batches:
        assert 1 <= len(batch) <= RELAY_BATCH
        assert len(batch) == 1 or sum(len(json.dumps(t.arg)) for t in batch) <= RELAY_BYTES


@pytest.mark.parametrize(
    ("workflow_class", "signal"),
    [
        (PracticeCohortWorkflow, PracticeCohortWorkflow.extend),
        (PracticeCohortWorkflow, PracticeCohortWorkflow.close_returns),
        (PracticeCohortWorkflow, PracticeCohortWorkflow.notify_shares),
        (PracticeCohortWorkflow, PracticeCohortWorkflow.close_all),
        (PracticeWorkflow, PracticeWorkflow.extend),
        (PracticeWorkflow, PracticeWorkflow.close_returns),
        (PracticeWorkflow, PracticeWorkflow.notify_share),
        (PracticeWorkflow, PracticeWorkflow.close_by_parent),
    ],
)
def test_every_relayed_signal_is_sent_by_the_name_temporal_knows(workflow_class: type, signal: Any) -> None:
    # A relay names its signal by the method's Python name (`Relays.send`): a `name=` on the decorator would
    # send it nowhere, silently.
    signals = workflow._Definition.must_from_class(workflow_class).signals
    assert signal.__name__ in signals and signals[signal.__name__].fn.__name__ == signal.__name__
