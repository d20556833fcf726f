"""The fan-out: N no-op child workflows in the incident's cohort shape (the baseline), then a pathology
incident of N practices, until every practice's return request is in the sink and its workflow running."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.noop import NoopFanout
from bench.servers import ROOT, Servers
from kinds import BY_NAME
from service import starting
from workflows.practice_cohort import COHORT_SIZE

PATHOLOGY = BY_NAME["pathology_error"]


def synthetic_incident(count: int) -> dict[str, Any]:
    """The NWL uACR example with `count` made-up practices in place of its own."""
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    data["practices"] = [
        {
            "ods": f"Z{i:05d}",
            "name": f"Bench Practice {i}",
            "contact_name": "Practice Manager",
            "contact_email": f"pm.z{i:05d}@bench.example",
        }
        for i in range(1, count + 1)
    ]
    return data


async def noop_fanout(servers: Servers, count: int) -> tuple[str, float]:
    """Run the baseline: its workflow id and the seconds until every no-op child has completed."""
    workflow_id = f"bench-noop-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    await servers.client.execute_workflow(
        NoopFanout.run, args=[count, COHORT_SIZE], id=workflow_id, task_queue=servers.settings.task_queue
    )
    return workflow_id, time.monotonic() - started


@dataclass
class Incident:
    incident_id: str
    practice_ids: list[str]  # in ODS order
    data: dict[str, Any]
    emailed: float  # from the start request to the last practice's email in the sink (or to giving up)
    notified: int
    running: float  # from the start request until every practice's workflow is running (its link answers)
    running_count: int

    @property
    def seconds(self) -> float:
        """Until every practice is notified: its email in the sink and its workflow running, whichever is later (a
        cohort emails a batch of practices, then starts their workflows)."""
        return max(self.emailed, self.running)

    @property
    def complete(self) -> bool:
        return self.notified == self.running_count == len(self.practice_ids)

    def links(self, servers: Servers) -> list[str]:
        """Each notified practice's link path, in ODS order."""
        return [mail.link for mail in servers.mail.arrived(self.practice_ids) if mail.link]


async def incident(servers: Servers, count: int) -> Incident:
    """Start a pathology incident of `count` practices; wait until each practice's first email is in the sink."""
    data = synthetic_incident(count)
    prepared = starting.prepare(PATHOLOGY, servers.settings.escalation_config(), data)
    incident_id = str(prepared.escalation_id)  # type: ignore[attr-defined]
    practice_ids = [f"{incident_id}-{p['ods']}" for p in data["practices"]]
    started = time.time()  # wall clock: the sink stamps arrivals with it, in another process
    await starting.start(servers.client, servers.settings, PATHOLOGY, prepared)
    await servers.until(lambda: len(servers.mail.arrived(practice_ids)) == count, timeout=120 + count * 0.5)
    arrived = servers.mail.arrived(practice_ids)
    last = max((mail.at for mail in arrived), default=time.time())
    running = await _all_running(servers, count, timeout=60 + count * 0.1)
    return Incident(incident_id, practice_ids, data, last - started, len(arrived), time.time() - started, running)


async def _all_running(servers: Servers, count: int, timeout: float) -> int:
    """Wait until Temporal lists `count` practice workflows running (the bench runs one incident at a time); how
    many it lists."""
    deadline = time.monotonic() + timeout
    query = "WorkflowType = 'PracticeReturn' AND ExecutionStatus = 'Running'"
    while (running := (await servers.client.count_workflows(query)).count) < count and time.monotonic() < deadline:
        servers.check()
        await asyncio.sleep(0.2)
    return running
