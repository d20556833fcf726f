"""One piece of news for many workflows, signalled by workflow ID from one activity: what an incident tells
its cohorts, and a cohort its practices (more time for returns, returns closed, shares, closing).

Why an activity: a workflow that signals N others itself writes two history events per signal, so every
message an incident sent added events in proportion to its size, and an incident extended again and again
would grow by thousands of events. An activity is three events for up to 50 targets
(`workflows.children.relay_batches`).

Why a retry is safe: each signal carries a request id made of the relay's id (drawn by the sending workflow
and part of the activity's input, so every attempt uses it) and the target's workflow ID, and Temporal records a signal once per request
id. An attempt cut off half way, tried again, tells nobody twice. A target that has finished, or was never
started, is passed over, as a signal from the workflow itself would be.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

SIGNALS_AT_ONCE = 20
"""Signals a relay has in flight at a time: enough to keep the round trips overlapping, few enough that a
relay to a hundred workflows does not crowd out everything else the worker's Temporal connection carries."""


class RelayTarget(BaseModel):
    workflow_id: str
    arg: dict[str, Any]  # the signal's argument as JSON (its model's `model_dump(mode="json")`)


class Relay(BaseModel):
    relay_id: str = Field(min_length=1)
    signal: str = Field(min_length=1)
    targets: list[RelayTarget]


def request_id(relay_id: str, workflow_id: str) -> str:
    """The signal's request id: the same for a target on every attempt of one relay, so Temporal keeps it once."""
    return f"{relay_id}:{workflow_id}"


class RelayActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="relay_signal")
    async def relay_signal(self, relay: Relay) -> int:
        """Signal every target; how many were running to be told."""
        slots = asyncio.Semaphore(SIGNALS_AT_ONCE)

        async def tell(target: RelayTarget) -> bool:
            async with slots:
                return await self._signal(relay, target)

        return sum(await asyncio.gather(*(tell(t) for t in relay.targets)))

    async def _signal(self, relay: Relay, target: RelayTarget) -> bool:
        client = self._client
        request = SignalWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=target.workflow_id),
            signal_name=relay.signal,
            input=Payloads(payloads=await client.data_converter.encode([target.arg])),
            identity=client.identity,
            request_id=request_id(relay.relay_id, target.workflow_id),
        )
        try:
            await client.workflow_service.signal_workflow_execution(request, retry=True)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:  # finished (its own completion is on its way), or never started
                return False
            raise
        return True
