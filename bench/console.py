"""The console's dashboard under load: N unfunded-work claims started, an ops account signed in through the login
form, then the dashboard (and /healthz, the baseline) fetched by one user alone (each GET cold: one visibility
query for the page and the count queries beside it) and by many users at once (who share answers for a second,
as the console does)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx
from pydantic import BaseModel

from bench.servers import ROOT, Servers
from kinds import BY_NAME
from persistence.database import make_engine
from persistence.users import Users
from service import listing, reading, starting
from service.gate import ListFilters, admit

CLAIM = BY_NAME["unfunded_claim"]
EMAIL = "bench-ops@lmc.example"
PASSWORD = "bench-password-not-secret"
ALONE = 20  # sequential GETs by one user
ROUNDS = 5  # GETs each concurrent user makes back to back
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def start_claims(servers: Servers, count: int) -> tuple[list[str], bool]:
    """Start `count` claims from examples/unfunded_claim_kent.json; wait until each one's first email is in the
    sink, the list shows them all and the worker is idle. Their ids, and whether all that happened in time."""
    data = starting.read_json(ROOT / "examples" / "unfunded_claim_kent.json")
    config = servers.settings.escalation_config()
    prepared = [starting.prepare(CLAIM, config, data) for _ in range(count)]
    limit = asyncio.Semaphore(8)

    async def start(one: BaseModel) -> str:
        async with limit:
            return await starting.start(servers.client, servers.settings, CLAIM, one)

    ids = list(await asyncio.gather(*(start(p) for p in prepared)))
    emailed = await servers.until(lambda: len(servers.mail.arrived(ids)) == count, timeout=60 + count * 0.5)
    listed = 0
    query = reading.list_query(admit(ListFilters, {"kind": CLAIM.name}))
    for _ in range(120):
        listed = len(await reading.list_escalations(servers.client, query))
        if listed >= count:
            break
        await asyncio.sleep(0.5)
    return ids, emailed and listed >= count


def add_ops_account(servers: Servers) -> None:
    Users(make_engine(servers.settings.database)).add(EMAIL, "ops", PASSWORD)


async def sign_in(http: httpx.AsyncClient) -> str | None:
    """Sign in through the form (its CSRF token from GET /login); None when signed in, else what went wrong."""
    page = await http.get("/login")
    token = _CSRF.search(page.text)
    if token is None:
        return f"no CSRF token on /login (HTTP {page.status_code})"
    answer = await http.post("/login", data={"csrf": token.group(1), "email": EMAIL, "password": PASSWORD})
    if answer.status_code != 303 or answer.headers.get("location", "").rstrip("/") not in ("/console", ""):
        return f"sign-in answered HTTP {answer.status_code} to {answer.headers.get('location', '-')}"
    check = await http.get("/console")
    return None if check.status_code == 200 else f"/console answered HTTP {check.status_code} after signing in"


async def _timed_gets(
    http: httpx.AsyncClient, path: str, times: int, failures: list[str], apart: float = 0.0
) -> list[float]:
    seconds = []
    for _ in range(times):
        await asyncio.sleep(apart)
        started = time.perf_counter()
        response = await http.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code == 200:
            seconds.append(elapsed)
        else:
            failures.append(f"{path}: HTTP {response.status_code}")
    return seconds


@dataclass
class Dashboard:
    users: int
    alone: list[float]
    together: list[float]
    health_alone: list[float]
    health_together: list[float]
    failures: list[str]
    problem: str | None = None  # why nothing could be measured


async def dashboard(servers: Servers, users: int) -> Dashboard:
    """GET /console (and /healthz) ALONE times by one signed-in user, then ROUNDS times each by `users` at once."""
    add_ops_account(servers)
    failures: list[str] = []
    clients = [httpx.AsyncClient(base_url=servers.settings.base_url, timeout=120) for _ in range(users)]
    try:
        for http in clients:
            if (problem := await sign_in(http)) is not None:
                return Dashboard(users, [], [], [], [], failures, problem)
        first = clients[0]
        await _timed_gets(first, "/console", 2, failures)  # warm up
        health_alone = await _timed_gets(first, "/healthz", ALONE, failures)
        # Alone, each GET waits out the console's shared answers (listing.COUNTS_FOR_SECONDS), so every one asks
        # Temporal afresh: the figure is a cold dashboard, not a cached one.
        alone = await _timed_gets(first, "/console", ALONE, failures, apart=listing.COUNTS_FOR_SECONDS + 0.1)

        async def together(path: str) -> list[float]:
            timed = await asyncio.gather(*(_timed_gets(http, path, ROUNDS, failures) for http in clients))
            return [s for one in timed for s in one]

        health_together = await together("/healthz")
        return Dashboard(users, alone, await together("/console"), health_alone, health_together, failures)
    finally:
        await asyncio.gather(*(http.aclose() for http in clients))
