"""Two workers share one task queue; one is killed mid-escalation. Everything still completes and
no audit row is written twice. An email whose SMTP send the killed worker had finished but not yet
recorded is sent again by the survivor (SMTP has no way to ask whether a message arrived); the copy
carries the same Message-ID, so mail systems that fold duplicates by Message-ID show it once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections import Counter

from temporalio.testing import WorkflowEnvironment

import escalations
from domain.contacts import Role
from domain.responses import ResponseInput
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from settings import ROOT, Settings
from tests.conftest import Inbox


async def start_worker(env: dict[str, str], name: str) -> asyncio.subprocess.Process:
    log = open(os.path.join(env["VAR_DIR"], f"{name}.log"), "wb")  # noqa: SIM115 - the process owns it
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), env=env, cwd=ROOT, stdout=log, stderr=log
    )


async def test_a_killed_worker_loses_nothing_and_repeats_nothing(
    dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    queue = f"two-workers-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TASK_QUEUE": queue,
        "VAR_DIR": str(settings.var_dir),
        "SMTP_PORT": str(settings.smtp_port),
        "LINK_SECRET": "test-link-secret",
    }
    local = settings.model_copy(update={"task_queue": queue})
    first, second = await start_worker(env, "worker-a"), await start_worker(env, "worker-b")
    try:
        data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
        eid = f"PEC-KILL-{uuid.uuid4().hex[:6].upper()}"
        start = escalations.build_start_pathology(local.escalation_config(), data, eid)
        await escalations.start_pathology(dev_env.client, local, start)
        await inbox.wait_for(eid, 8, timeout=60, family=True)
        first.send_signal(signal.SIGKILL)  # mid fan-out: tasks it held time out and move to the other
        await first.wait()
        await inbox.wait_for(eid, 42, timeout=150, family=True)

        codes = [p["ods"] for p in data["practices"]]
        for ods in codes:
            await escalations.respond(
                dev_env.client,
                f"{eid}-{ods}",
                ResponseInput(
                    action="submit_return",
                    actor_email=f"pm.{ods.lower()}@nhs.example",
                    actor_role=Role.PRACTICE,
                    counts={"patients_reviewed": 2, "recall_appointments": 1, "repeat_tests": 1, "admin_hours": 0},
                ),
            )
        await escalations.respond(
            dev_env.client,
            eid,
            ResponseInput(action="close_returns", actor_email="ceo@lmc.example", actor_role=Role.OFFICER),
        )
        await inbox.wait_for(f"{eid}-CLAIM", 1, timeout=60)
        view = await escalations.summary(dev_env.client, eid)
        assert len(view.case["claimed"]) == 40
    finally:
        for process in (first, second):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()

    sent = Counter(str(m["Message-ID"]) for m in inbox.for_case(eid, family=True))
    assert len(sent) == 44  # 40 return requests, year-end, report, "returns closed", the claim: each at least once
    repeated = [mid for mid, n in sent.items() if n > 1]
    assert len(repeated) <= 8 and max(sent.values()) <= 2, repeated  # only sends in flight at the kill
    audit = AuditLog(make_engine(settings.database))
    for case_id in [eid, f"{eid}-{codes[0]}", f"{eid}-{codes[-1]}", f"{eid}-CLAIM"]:
        rows = audit.timeline(case_id)
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert audit.verify(case_id).ok
