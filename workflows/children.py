"""Talking to child workflows that may already have finished: one at a time by signal, or many by a relay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowHandle

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.relay import Relay, RelayActivities, RelayTarget
    from workflows.escalation_workflow import ACTIVITY_RETRY

RELAY_PATCH = "relay-by-activity"
"""From this patch on, an incident's news reaches its cohorts, and a cohort's its practices, through `Relays`;
runs recorded before signal each child from the workflow, as they did."""
RELAY_BATCH = 50
"""Targets per relay activity, so its input stays bounded (50 cohorts' share notices are about 125 KB)."""


async def signal_if_running(handle: ChildWorkflowHandle[Any, Any], signal: Callable[..., Any], arg: Any) -> None:
    """Signal a child (by its signal method) unless it has already finished (its own completion is then on its way)."""
    try:
        await handle.signal(signal, arg)
    except ApplicationError as err:
        if err.type != "ExternalWorkflowExecutionNotFound":
            raise


class Relays:
    """Signals to many workflows by ID, a batch of them per activity (`activities.relay`): a few history events
    per message, where a signal from the workflow costs two per child. One relay at a time, so news reaches
    each child in the order it was sent (an extension before the closing that follows it)."""

    def __init__(self) -> None:
        self._one_at_a_time = asyncio.Lock()

    async def send(self, signal: Callable[..., Any], targets: Sequence[tuple[str, BaseModel]]) -> None:
        """Signal each (workflow ID, argument) by `signal` (a signal method, named as Temporal knows it)."""
        relay_id = str(workflow.uuid4())  # deterministic: the same on replay, so a retry's request ids match
        relays = [
            Relay(
                relay_id=relay_id,
                signal=signal.__name__,
                targets=[RelayTarget(workflow_id=w, arg=arg.model_dump(mode="json")) for w, arg in batch],
            )
            for batch in (targets[i : i + RELAY_BATCH] for i in range(0, len(targets), RELAY_BATCH))
        ]
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
