"""Shared test setup: the example claim, a worker, and reading a case back."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import LEGACY_CALENDAR
from domain.contacts import Role
from domain.responses import ResponseInput
from domain.working_days import is_working_day, next_working_day
from kinds import BY_NAME
from service import reading, starting
from settings import ROOT, Settings
from worker import build_worker
from workflows.escalation_workflow import CaseView
from workflows.unfunded_claim import StartClaim

CLAIM = BY_NAME["unfunded_claim"]
PATHOLOGY = BY_NAME["pathology_error"]
DEREGISTRATION = BY_NAME["deregistration"]

EXAMPLE = ROOT / "examples" / "unfunded_claim_kent.json"
ICB_L1 = "primarycare.contracts@kmicb.example"
ICB_L2 = "director.primarycare@kmicb.example"
ICB_L3 = "cmo@kmicb.example"
OFFICER = "ceo@lmc.example"
CHAIR = "chair@lmc.example"


def example_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    data.update(changes)
    return data


def example_start(settings: Settings, **changes: Any) -> StartClaim:
    escalation_id = f"UWC-TEST-{uuid.uuid4().hex[:8].upper()}"
    start = starting.prepare(CLAIM, settings.escalation_config(), example_data(**changes), escalation_id)
    assert isinstance(start, StartClaim)
    return start


@asynccontextmanager
async def running_worker(client: Client, settings: Settings, **overrides: Any) -> AsyncIterator[Worker]:
    worker = build_worker(client, settings, **overrides)
    async with worker:
        yield worker


def payer(action: str, email: str = ICB_L1, **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=Role.PAYER, **fields)


def officer(action: str, **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=OFFICER, actor_role=Role.OFFICER, **fields)


async def summary_of(client: Client, escalation_id: str) -> CaseView:
    return await reading.summary(client, escalation_id)


async def skip_past_deadline(env: WorkflowEnvironment, escalation_id: str) -> CaseView:
    """Advance the time-skipping server to one minute after the current wait's deadline."""
    view = await summary_of(env.client, escalation_id)
    assert view.wait is not None and view.wait.deadline is not None, view.wait
    deadline = datetime.fromisoformat(view.wait.deadline)
    await env.sleep(deadline - await env.get_current_time() + timedelta(minutes=1))
    return view


async def settled_view(client: Client, escalation_id: str, ready: Any, timeout: float = 15) -> CaseView:
    """The case's summary once `ready(view)` holds: children report back asynchronously."""
    for _ in range(int(timeout * 10)):
        view = await summary_of(client, escalation_id)
        if ready(view):
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"{escalation_id} did not reach the expected state: {view.status}")


async def wait_until_listed(client: Client, escalation_id: str, timeout: float = 15) -> None:
    """Until visibility (which catches up with a start a moment later) lists `escalation_id` as open."""
    for _ in range(int(timeout * 10)):
        if (await client.count_workflows(f"WorkflowId = '{escalation_id}' AND CloseTime IS NULL")).count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{escalation_id} was not listed as open")


async def run_starter(settings: Settings, *args: str, client: Client | None = None) -> tuple[int, str, str]:
    """`starter.py` as an officer runs it, a process of its own, on the tests' database and mail server (and, given
    `client`, its Temporal server and task queue): its exit code, stdout and stderr."""
    env = {
        **os.environ,
        "VAR_DIR": str(settings.var_dir),
        "SMTP_PORT": str(settings.smtp_port),
        "LINK_SECRET": "test-link-secret",
    }
    if client is not None:
        env |= {"TEMPORAL_ADDRESS": client.service_client.config.target_host, "TASK_QUEUE": settings.task_queue}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "starter.py"), *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


def csrf_in(page: httpx.Response) -> str:
    """The CSRF token a console page's forms carry."""
    return page.text.split('name="csrf" value="')[1].split('"')[0]


async def csrf_of(http: httpx.AsyncClient, path: str) -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text[:500]
    return csrf_in(page)


async def sign_in(http: httpx.AsyncClient, email: str, password: str, with_csrf: bool = True) -> httpx.Response:
    """Sign in through the login form, as a browser would."""
    token = csrf_in(await http.get("/login"))
    return await http.post("/login", data={"email": email, "password": password, "csrf": token if with_csrf else "x"})


def last_working_day_by(day: date) -> date:
    """`day`, or the working day before it: a date a meeting can have been held on."""
    while not is_working_day(LEGACY_CALENDAR, day):
        day -= timedelta(days=1)
    return day


def working_day_after(moment: datetime, days: int) -> str:
    """The first working day at least `days` after `moment`, as a start file gives it: a deadline an officer sets
    must be a working day."""
    return next_working_day(LEGACY_CALENDAR, (moment + timedelta(days=days)).date()).isoformat()
