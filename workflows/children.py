"""Talking to child workflows that may already have finished: one at a time by signal, or many by a relay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowHandle, ExternalWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.relay import Relay, RelayActivities, RelayTarget
    from workflows.escalation_workflow import ACTIVITY_RETRY

RELAY_PATCH = "relay-by-activity"
"""From this patch on, an incident's news reaches its cohorts, and a cohort's its practices, through `Relays`;
runs recorded before signal each child from the workflow, as they did."""
RELAY_BATCH = 50
"""Targets per relay activity at most: a batch retried after a crash repeats little."""
RELAY_BYTES = 128 * 1024
"""What a relay activity's targets may add up to (their arguments as JSON), so its input stays bounded whatever
the news: an incident's shares for 50 cohorts of a stored list are about 125 KB, but 50 cohorts of a list in its
start (as first recorded) carry each practice's whole notice, ten times that."""


async def signal_if_running(
    handle: ChildWorkflowHandle[Any, Any] | ExternalWorkflowHandle[Any], signal: Callable[..., Any] | str, arg: Any
) -> None:
    """Signal a workflow (by its signal method, or name) unless it has already finished (a child's own completion
    is then on its way; a parent that has closed is no longer listening)."""
    try:
        await handle.signal(signal, arg)
    except ApplicationError as err:
        if err.type != "ExternalWorkflowExecutionNotFound":
            raise


class Relays:
    """Signals to many workflows by ID, a batch of them per activity (`activities.relay`): three history events a
    batch, where a signal from the workflow costs two per child. One relay at a time, so news reaches
    each child in the order it was sent (an extension before the closing that follows it)."""

    def __init__(self) -> None:
        self._one_at_a_time = asyncio.Lock()

    async def send(self, signal: Callable[..., Any], targets: Sequence[tuple[str, BaseModel]]) -> None:
        """Signal each (workflow ID, argument) by `signal`: a signal method declared without a `name`, so that its
        Python name is the one Temporal knows (`tests/test_relay.py` checks every one relayed)."""
        relay_id = str(workflow.uuid4())  # drawn by the workflow: the same when its history replays
        told = [RelayTarget(workflow_id=w, arg=arg.model_dump(mode="json")) for w, arg in targets]
        relays = [Relay(relay_id=relay_id, signal=signal.__name__, targets=batch) for batch in relay_batches(told)]
        async with self._one_at_a_time:
            await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        RelayActivities.relay_signal,
                        relay,
                        start_to_close_timeout=timedelta(minutes=2),
                        retry_policy=ACTIVITY_RETRY,
                    )
                    for relay in relays
                )
            )


def relay_batches(targets: list[RelayTarget]) -> list[list[RelayTarget]]:
    """`targets` in order, in batches of at most `RELAY_BATCH` and, but for a single target larger on its own,
    at most `RELAY_BYTES` of arguments."""
    batches: list[list[RelayTarget]] = []
    size = 0
    for target in targets:
        weight = len(json.dumps(target.arg))
        if not batches or len(batches[-1]) >= RELAY_BATCH or size + weight > RELAY_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(target)
        size += weight
    return batches
