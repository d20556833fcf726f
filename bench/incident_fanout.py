"""Benchmark: an incident's fan-out to N practices, against a baseline run in the same process.

    .venv/bin/python bench/incident_fanout.py              # 1,000 practices
    .venv/bin/python bench/incident_fanout.py --practices 6300

Starts its own Temporal dev server, SMTP sink, worker and web app on free local ports, then:
  baseline  N no-op child workflows (in the same cohorts as practices) started and completed;
  emails    a pathology incident of N practices, until every practice's return request is in the sink;
  returns   every practice's return POSTed through its real link page, until all are stored.
Prints seconds and each figure's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func
from sqlmodel import Session as DbSession
from sqlmodel import select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kinds import BY_NAME  # noqa: E402
from service import starting  # noqa: E402

PATHOLOGY = BY_NAME["pathology_error"]
from bench.noop import NoopChild, NoopCohort, NoopFanout  # noqa: E402
from logging_setup import configure_logging  # noqa: E402
from persistence.database import make_engine  # noqa: E402
from persistence.practice_returns import PracticeReturnRow  # noqa: E402
from settings import Settings  # noqa: E402
from temporal_client import ensure_search_attributes  # noqa: E402
from web.app import create_app  # noqa: E402
from worker import WORKFLOWS, build_worker  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402
from workflows.practice_cohort import COHORT_SIZE  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.links: dict[str, str] = {}  # practice workflow id -> link path
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        self.count += 1
        subject = str(message["Subject"])
        if "Workload return requested" in subject:
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            match = re.search(r"/r/[A-Za-z0-9_.=-]+", text)
            case_id = subject[1 : subject.index("]")]
            if match:
                self.links[case_id] = match.group(0)
        return "250 OK"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def synthetic_incident(count: int) -> dict[str, Any]:
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


async def until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        await asyncio.sleep(0.05)


async def main(count: int, concurrency: int) -> None:
    configure_logging(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="lmc-bench-"))
    sink = CountingSink()
    smtp_port, web_port = free_port(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = Settings(
        var_dir=work,
        smtp_port=smtp_port,
        base_url=f"http://127.0.0.1:{web_port}",
        link_secret="bench",
        task_queue="bench",
        _env_file=None,  # type: ignore[call-arg]
    )
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
    )
    await ensure_search_attributes(env.client)
    web = uvicorn.Server(uvicorn.Config(create_app(settings, env.client), port=web_port, log_level="warning"))
    web_task = asyncio.create_task(web.serve())
    worker = build_worker(env.client, settings, workflows=[*WORKFLOWS, NoopChild, NoopCohort, NoopFanout])
    try:
        async with worker:
            started = time.monotonic()
            await env.client.execute_workflow(
                NoopFanout.run, args=[count, COHORT_SIZE], id=f"bench-noop-{uuid.uuid4().hex[:6]}", task_queue="bench"
            )
            baseline = time.monotonic() - started

            start = starting.prepare(PATHOLOGY, settings.escalation_config(), synthetic_incident(count))
            started = time.monotonic()
            escalation_id = await starting.start(env.client, settings, PATHOLOGY, start)
            await until(lambda: len(sink.links) >= count, timeout=60 + count * 0.5)
            emails = time.monotonic() - started

            engine = make_engine(settings.database)

            def stored() -> int:
                with DbSession(engine) as db:
                    return int(db.exec(select(func.count()).select_from(PracticeReturnRow)).one())

            form = {
                "action": "submit_return",
                "count.patients_reviewed": "12",
                "count.recall_appointments": "3",
                "count.repeat_tests": "5",
                "count.admin_hours": "1",
            }
            limit = asyncio.Semaphore(concurrency)
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=settings.base_url, timeout=60) as http:

                async def post(path: str) -> None:
                    async with limit:
                        response = await http.post(path, data=form)
                        response.raise_for_status()

                await asyncio.gather(*(post(path) for path in sink.links.values()))
            await until(lambda: stored() >= count, timeout=60 + count * 0.2)
            returns = time.monotonic() - started
            incident_events = len((await env.client.get_workflow_handle(escalation_id).fetch_history()).events)
            cohort_id = f"{escalation_id}-C01"
            cohort_events = len((await env.client.get_workflow_handle(cohort_id).fetch_history()).events)
    finally:
        web.should_exit = True
        await web_task
        controller.stop()
        await env.shutdown()

    print(f"practices: {count} (cohorts of {COHORT_SIZE})")
    print(f"baseline  {count} no-op child workflows   {baseline:8.2f} s   1.00x")
    print(f"emails    every return request sent     {emails:8.2f} s   {emails / baseline:5.2f}x baseline")
    print(f"returns   every return POSTed, stored   {returns:8.2f} s   {returns / baseline:5.2f}x baseline")
    print(f"history   incident {incident_events} events, first cohort {cohort_events} (Temporal warns at 10,240)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16, help="returns POSTed at once")
    args = parser.parse_args()
    asyncio.run(main(args.practices, args.concurrency))
