"""Practices' returns POSTed through their real link pages: each page opened first (as a practice would), then a
few single POSTs one after another, then a burst of concurrent POSTs, each timed alone. The baseline does the same
with no-op updates straight to waiting no-op runs (`bench.noop.NoopAnswer`): what the engine underneath takes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from temporalio.client import Client, WorkflowHandle

from bench.noop import NoopAnswer
from bench.procstat import CpuMeter

SINGLES = 3
T = TypeVar("T")


def return_form(incident_data: dict[str, Any]) -> dict[str, str]:
    """A counts return for every tariff item of the incident, as the link page's form posts it."""
    return {"action": "submit_return", **{f"count.{item['key']}": "3" for item in incident_data["tariff"]}}


@dataclass
class Posts:
    single: list[float] = field(default_factory=list)  # seconds, one at a time
    burst: list[float] = field(default_factory=list)  # seconds, each of the concurrent POSTs
    failures: list[str] = field(default_factory=list)  # what went wrong, per failed POST
    pages: list[float] = field(default_factory=list)  # seconds, each link page's GET before its POST

    @property
    def ok(self) -> int:
        return len(self.single) + len(self.burst)


async def post_returns(
    base_url: str, links: list[str], form: dict[str, str], concurrent: int, meter: CpuMeter
) -> Posts:
    """POST `form` to SINGLES links one by one, then to `concurrent` others at once; `meter` measures the POSTs
    (started once the pages are open), as it measures the baseline's updates."""
    result = Posts()
    chosen = links[: SINGLES + concurrent]
    limits = httpx.Limits(max_connections=concurrent + SINGLES, max_keepalive_connections=concurrent + SINGLES)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        for link in chosen:  # open each page first, one at a time, as its practice would
            started = time.perf_counter()
            await http.get(link)
            result.pages.append(time.perf_counter() - started)
        meter.start()

        async def post(link: str) -> float | None:
            started = time.perf_counter()
            try:
                response = await http.post(link, data=form)
            except httpx.HTTPError as err:
                result.failures.append(f"{type(err).__name__}: {err}")
                return None
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                result.failures.append(f"HTTP {response.status_code}: {' '.join(response.text.split())[:200]}")
                return None
            return elapsed

        await _singles_then_burst(result, chosen, post)
    return result


async def _singles_then_burst(result: Posts, targets: list[T], timed: Callable[[T], Awaitable[float | None]]) -> None:
    """`timed` for SINGLES of `targets` one by one, then for the rest at once; its seconds into `result` (a failed
    one's None left out: `timed` has said why in `result.failures`)."""
    for target in targets[:SINGLES]:
        if (seconds := await timed(target)) is not None:
            result.single.append(seconds)
    burst = await asyncio.gather(*(timed(target) for target in targets[SINGLES:]))
    result.burst = [s for s in burst if s is not None]


async def start_noop_answers(client: Client, task_queue: str, concurrent: int) -> list[WorkflowHandle[Any, Any]]:
    """As many waiting no-op runs as `post_returns` will POST to; wait for the worker to go idle before timing."""
    prefix = f"bench-answer-{uuid.uuid4().hex[:6]}"
    handles: list[WorkflowHandle[Any, Any]] = []
    for n in range(SINGLES + concurrent):
        handles.append(await client.start_workflow(NoopAnswer.run, id=f"{prefix}-{n}", task_queue=task_queue))
    return handles


async def noop_updates(handles: list[WorkflowHandle[Any, Any]]) -> Posts:
    """An update to SINGLES of the runs one by one, then to the others at once, each timed as `post_returns` times
    a POST."""
    result = Posts()

    async def answer(handle: WorkflowHandle[Any, Any]) -> float | None:
        started = time.perf_counter()
        try:
            await handle.execute_update(NoopAnswer.answer, "return")
        except Exception as err:  # noqa: BLE001 - counted and shown, as a failed POST is
            result.failures.append(f"{type(err).__name__}: {err}")
            return None
        return time.perf_counter() - started

    await _singles_then_burst(result, handles, answer)
    return result
