"""What a tree of workflows left in Temporal's histories: events per leaf (a practice, or a no-op child) with
its share of its parents', the largest payloads, and how long workflow tasks took (WorkflowTaskStarted to
WorkflowTaskCompleted) or whether they timed out."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

_PAYLOAD = "temporal.api.common.v1.Payload"
E = EventType


def event_name(event: HistoryEvent) -> str:
    """WorkflowTaskStarted for EVENT_TYPE_WORKFLOW_TASK_STARTED."""
    words = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").split("_")
    return "".join(word.capitalize() for word in words)


def payload_bytes(message: Message) -> int:
    """The serialized size of every Payload inside `message` (inputs, results, headers, memo, search attributes)."""
    if message.DESCRIPTOR.full_name == _PAYLOAD:
        return message.ByteSize()
    total = 0
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            if descriptor.message_type.fields_by_name["value"].message_type is not None:
                total += sum(payload_bytes(v) for v in value.values())
        elif descriptor.is_repeated:
            total += sum(payload_bytes(v) for v in value)
        else:
            total += payload_bytes(value)
    return total


@dataclass
class Run:
    """One workflow's history, read once."""

    workflow_id: str
    workflow_type: str
    events: list[HistoryEvent]
    children: list[str]

    @property
    def by_type(self) -> Counter[str]:
        return Counter(event_name(e) for e in self.events)

    def largest_payload(self) -> tuple[int, str]:
        """The event carrying the most payload bytes: its bytes and its type."""
        return max(((payload_bytes(e), event_name(e)) for e in self.events), default=(0, "-"))

    def task_seconds(self, local_activities: bool | None = None) -> list[float]:
        """How long each completed workflow task ran, WorkflowTaskStarted to WorkflowTaskCompleted: every task, or
        only those that ran a local activity (`True`: its marker is among the task's commands) or only the rest."""
        started = {
            e.event_id: e.event_time.ToNanoseconds()
            for e in self.events
            if e.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED
        }
        timed: list[float] = []
        for at, e in enumerate(self.events):
            if e.event_type != E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                continue
            began = started.get(e.workflow_task_completed_event_attributes.started_event_id)
            if began is None:
                continue
            if local_activities is not None and self._ran_local_activity(at) is not local_activities:
                continue
            timed.append((e.event_time.ToNanoseconds() - began) / 1e9)
        return timed

    def _ran_local_activity(self, completed_at: int) -> bool:
        """The task completed at index `completed_at` recorded a local activity's marker among its commands."""
        for e in self.events[completed_at + 1 :]:
            if e.event_type == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                return False
            if e.marker_recorded_event_attributes.marker_name == "core_local_activity":
                return True
        return False

    def count(self, event_type: int) -> int:
        return sum(1 for e in self.events if e.event_type == event_type)

    def since(self, before: Run) -> Run:
        """This run's events that `before` (an earlier read of it) did not have."""
        return Run(self.workflow_id, self.workflow_type, self.events[len(before.events) :], [])

    def update_task_seconds(self) -> list[float]:
        """For each update accepted, its workflow task's time from WorkflowTaskScheduled to WorkflowTaskCompleted
        (queued for the worker, then run): the part of an update's round trip that history shows."""
        at = {e.event_id: e for e in self.events}
        timed, completed = [], None
        for e in self.events:
            if e.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                completed = e
            elif e.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED and completed is not None:
                scheduled = at.get(completed.workflow_task_completed_event_attributes.scheduled_event_id)
                if scheduled is not None:
                    timed.append((completed.event_time.ToNanoseconds() - scheduled.event_time.ToNanoseconds()) / 1e9)
        return timed

    def activity_seconds(self) -> list[tuple[str, float, float]]:
        """Each completed activity: its type, seconds queued (scheduled to started) and seconds running."""
        at = {e.event_id: e for e in self.events}
        timed = []
        for e in self.events:
            if e.event_type != E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                continue
            done = e.activity_task_completed_event_attributes
            scheduled, started = at.get(done.scheduled_event_id), at.get(done.started_event_id)
            if scheduled is None or started is None:
                continue
            s, b, c = (x.event_time.ToNanoseconds() / 1e9 for x in (scheduled, started, e))
            timed.append((scheduled.activity_task_scheduled_event_attributes.activity_type.name, b - s, c - b))
        return timed

    def activities(self) -> Counter[str]:
        return Counter(
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in self.events
            if e.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        )


async def _read(client: Client, workflow_id: str) -> Run:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = list(history.events)
    started = events[0].workflow_execution_started_event_attributes if events else None
    return Run(
        workflow_id,
        started.workflow_type.name if started is not None else "?",
        events,
        [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            for e in events
            if e.event_type == E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ],
    )


@dataclass
class Tree:
    """A root workflow and every workflow it started, and they started, read level by level."""

    root: Run
    runs: dict[str, Run] = field(default_factory=dict)

    @classmethod
    async def read(cls, client: Client, root_id: str, concurrency: int = 16) -> Tree:
        limit = asyncio.Semaphore(concurrency)

        async def read_one(workflow_id: str) -> Run:
            async with limit:
                return await _read(client, workflow_id)

        root = await read_one(root_id)
        tree = cls(root, {root_id: root})
        level = root.children
        while level:
            runs = await asyncio.gather(*(read_one(w) for w in level))
            tree.runs.update((run.workflow_id, run) for run in runs)
            level = [child for run in runs for child in run.children]
        return tree

    def of_type(self, workflow_type: str) -> list[Run]:
        return [run for run in self.runs.values() if run.workflow_type == workflow_type]

    def per_leaf(self, leaf_type: str, parent_types: tuple[str, ...]) -> PerLeaf:
        """Events per leaf workflow, with its share of its parents' (and the root's) events."""
        leaves = self.of_type(leaf_type)
        parents = [self.root, *(r for t in parent_types for r in self.of_type(t))]
        count = max(len(leaves), 1)
        own: Counter[str] = Counter()
        for run in leaves:
            own.update(run.by_type)
        shared: Counter[str] = Counter()
        for run in parents:
            shared.update(run.by_type)
        return PerLeaf(len(leaves), {k: v / count for k, v in own.items()}, {k: v / count for k, v in shared.items()})

    def task_seconds(self, local_activities: bool | None = None) -> list[float]:
        return [seconds for run in self.runs.values() for seconds in run.task_seconds(local_activities)]

    def slow_tasks(self, longer_than: float) -> Counter[str]:
        """Workflow tasks that ran longer than `longer_than` seconds, by workflow type."""
        found: Counter[str] = Counter()
        for run in self.runs.values():
            found[run.workflow_type] += sum(1 for s in run.task_seconds() if s > longer_than)
        return +found

    def task_timeouts(self) -> Counter[str]:
        """Workflow-task timeouts, by workflow type and kind (a sticky task not picked up in time is
        SCHEDULE_TO_START; a task the worker took too long over is START_TO_CLOSE)."""
        found: Counter[str] = Counter()
        for run in self.runs.values():
            for e in run.events:
                if e.event_type == E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                    kind = TimeoutType.Name(e.workflow_task_timed_out_event_attributes.timeout_type)
                    found[f"{run.workflow_type} {kind.removeprefix('TIMEOUT_TYPE_')}"] += 1
        return found

    def timeout_contexts(self, limit: int = 3) -> list[str]:
        """For the first `limit` workflow-task timeouts: the workflow and the events around the task that timed
        out, each with its time after the first shown, so a reader can see what the task was waiting for."""
        shown: list[str] = []
        for run in self.runs.values():
            for n, e in enumerate(run.events):
                if e.event_type != E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT or len(shown) >= limit:
                    continue
                around = run.events[max(n - 6, 0) : n + 5]
                start = around[0].event_time.ToNanoseconds()
                steps = ", ".join(
                    f"{event_name(x)} +{(x.event_time.ToNanoseconds() - start) / 1e6:.0f} ms" for x in around
                )
                shown.append(f"{run.workflow_id}: {steps}")
        return shown

    def count_by_type(self, event_type: int) -> Counter[str]:
        """Events of `event_type`, by the type of workflow they happened in."""
        found: Counter[str] = Counter()
        for run in self.runs.values():
            found[run.workflow_type] += run.count(event_type)
        return +found

    def activities_per(self, workflow_type: str) -> dict[str, float]:
        runs = self.of_type(workflow_type)
        total: Counter[str] = Counter()
        for run in runs:
            total.update(run.activities())
        return {name: n / max(len(runs), 1) for name, n in total.most_common()}

    def count(self, event_type: int) -> int:
        return sum(run.count(event_type) for run in self.runs.values())


@dataclass
class PerLeaf:
    leaves: int
    own: dict[str, float]  # a leaf's own events by type, averaged
    shared: dict[str, float]  # its share of its parents' events by type

    @property
    def total(self) -> float:
        return sum(self.own.values()) + sum(self.shared.values())

    def describe(self, top: int = 12) -> str:
        def part(counts: dict[str, float]) -> str:
            ranked = sorted(counts.items(), key=lambda i: -i[1])
            shown = ", ".join(f"{name} {n:.2f}" for name, n in ranked[:top] if n >= 0.005)
            rest = sum(n for _, n in ranked[top:])
            return shown + (f", other {rest:.2f}" if rest >= 0.005 else "")

        return (
            f"own {sum(self.own.values()):.2f} ({part(self.own)}); "
            f"share of parents {sum(self.shared.values()):.2f} ({part(self.shared)})"
        )
