"""An incident's per-practice table in the console, over HTTP against the dev server: every practice with its
return status, counts and request link; filters; the CSV in pounds; and practices' requests found by search
and by `list` (they are an incident's parts, left out of the plain list)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kinds import BY_NAME
from persistence.database import make_engine
from persistence.users import Users
from service import acting, reading, starting
from service.gate import ListFilters, admit
from settings import ROOT, Settings
from tests.conftest import Inbox
from tests.helpers import sign_in
from tests.test_pathology import counts, practice
from web.app import create_app

PATHOLOGY = BY_NAME["pathology_error"]


@pytest.fixture
async def console(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    Users(make_engine(settings.database)).add("inc@lmc.example", "officer", "a long incident password")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, "inc@lmc.example", "a long incident password")
        yield http


async def test_an_incidents_practices_in_one_table_filtered_exported_and_found(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    data["practices"] = data["practices"][:4]
    codes = [p["ods"] for p in data["practices"]]
    eid = f"PEC-TEST-{uuid.uuid4().hex[:8].upper()}"
    await starting.start(
        dev_env.client, settings, PATHOLOGY, starting.prepare(PATHOLOGY, settings.escalation_config(), data, eid)
    )
    await inbox.wait_for(eid, 6, family=True)  # 4 return requests, the ICB's year-end and the trust's report
    for n, ods in enumerate(codes[:2]):
        await acting.respond(dev_env.client, f"{eid}-{ods}", practice(ods, counts=counts(n + 1)))

    for _ in range(160):  # the requests' statuses reach visibility a moment later (later on a loaded machine)
        page = await console.get(f"/console/e/{eid}/practices")
        assert page.status_code == 200, page.text
        stored = "4 practices; 2 returned" in page.text  # both returns stored (the filter's options say "returned" too)
        if stored and page.text.count("return received") >= 2:  # and their statuses listed (from visibility)
            break
        await asyncio.sleep(0.25)
    for ods in codes:
        assert f'href="/console/e/{eid}-{ods}"' in page.text
    assert "recall appointments: 1" in page.text and "4 practices; 2 returned" in page.text

    returned = await console.get(f"/console/e/{eid}/practices", params={"returned": "yes"})
    assert all(ods in returned.text for ods in codes[:2]) and not any(f">{ods}<" in returned.text for ods in codes[2:])
    waiting = await console.get(f"/console/e/{eid}/practices", params={"returned": "no", "q": codes[3]})
    assert f">{codes[3]}<" in waiting.text and f">{codes[2]}<" not in waiting.text

    exported = await console.get(f"/console/e/{eid}/practices.csv", params={"returned": "yes"})
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert f"Practices of {eid}" in lines[0] and "Claimed (GBP)" in lines[1] and len(lines) == 4
    assert ",Status," in lines[1] and "return received" in lines[2]  # each practice's status, in words

    found = await reading.list_escalations(dev_env.client, reading.list_query(admit(ListFilters, {"search": codes[0]})))
    assert f"{eid}-{codes[0]}" in {row.id for row in found}
    plain = await reading.list_escalations(dev_env.client, reading.list_query(admit(ListFilters, {"parts": True})))
    assert f"{eid}-{codes[1]}" in {row.id for row in plain}
    incident = await console.get(f"/console/e/{eid}")
    assert f'href="/console/e/{eid}/practices"' in incident.text
    one = await console.get(f"/console/e/{eid}-{codes[0]}")  # staff read whose return it is; "your" is the practice's
    assert "The practice&#39;s return" in one.text and "Your return" not in one.text, one.text
    await dev_env.client.get_workflow_handle(eid).terminate(reason="console test over")


def test_a_practice_with_no_share_once_shares_are_given_has_nothing_due() -> None:
    """The practices table had said 'no share yet' beside a request that said 'nothing due'."""
    from service.practice_table import PAYMENT_FILTERS, payment_state

    assert payment_state(None, None, shares_given=False) == ""  # before any share
    assert PAYMENT_FILTERS[payment_state(None, None, shares_given=True)] == "nothing due"  # no return
    assert PAYMENT_FILTERS[payment_state(0, None, shares_given=True)] == "nothing due"  # a nil return
    assert payment_state(10_000, None, shares_given=True) == "awaiting"
    assert payment_state(10_000, 9_000, shares_given=True) == "underpaid"
    assert payment_state(10_000, 10_000, shares_given=True) == "paid"
    assert payment_state(0, 500, shares_given=True) == "overpaid"  # paid something where nothing was due
