"""The console in a real browser (Debian's Chromium, driven by Playwright) against the dev server: search,
sort and paging over 500 escalations; an incident's per-practice table with its filters and links; a form's
error beside its field with everything typed kept; the report's chart and CSV; and axe-core on every console
page with no serious or critical violation. UPDATE_SCREENSHOTS=1 (docs/update-screenshots.sh) refreshes
docs/dashboard.png, docs/incident.png and docs/report.png."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from domain.calendar import LEGACY_CALENDAR
from domain.working_days import add_working_days
from kinds import BY_NAME
from mail.sink import start_sink
from persistence.database import make_engine
from persistence.users import Users
from service import acting, starting
from service.refusals import Refused
from settings import ROOT, Settings
from tests.conftest import Inbox, free_port
from tests.helpers import CLAIM, ICB_L1, example_start, officer, payer, skip_past_deadline
from tests.test_browser import CHROMIUM, FLAGS
from tests.test_pathology import counts, practice
from web.app import create_app
from worker import build_worker
from workflows import search_attributes as sa

DOCS = ROOT / "docs"
PASSWORD = "a long console browser password"
SEEDED = 500

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Chromium is not installed (.ci/run installs it; under CI this fails instead)",
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
async def site(dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """The web app, a worker and an SMTP sink of their own; accounts for each role."""
    smtp_port, web_port = free_port(), free_port()
    sink = start_sink(tmp_path / "mail", port=smtp_port)
    local = settings.model_copy(
        update={
            "var_dir": tmp_path,
            "smtp_port": smtp_port,
            "base_url": f"http://127.0.0.1:{web_port}",
            "dev_mail_browser": True,
            "task_queue": f"console-browser-{uuid.uuid4().hex[:6]}",
        }
    )
    users = Users(make_engine(local.database))
    for role in ("officer", "ops", "admin"):
        users.add(f"{role}@lmc.example", role, PASSWORD)
    server = uvicorn.Server(uvicorn.Config(create_app(local, dev_env.client), port=web_port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        async with build_worker(dev_env.client, local):
            while not server.started:
                await asyncio.sleep(0.05)
            yield local
    finally:
        server.should_exit = True
        await serving
        sink.stop()


async def signed_in(browser: Browser, site: Settings, role: str) -> Page:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    await page.goto(f"{site.base_url}/login")
    await page.fill("#email", f"{role}@lmc.example")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{site.base_url}/console")
    return page


async def no_serious_violations(page: Page) -> None:
    """axe-core on the page as it stands: nothing serious or critical."""
    results = await Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{page.url}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad)


def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path


async def seed(client: Client, word: str, count: int) -> list[str]:
    """`count` escalations as the dashboard sees them, cheaply: workflows started with their search attributes
    on a task queue no worker polls (the dashboard reads visibility only). Every title carries `word`."""
    queue = f"nobody-polls-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(25)

    async def one(n: int) -> str:
        eid = f"UWC-2026-S{word[-4:].upper()}{n:04d}"
        attributes: list[SearchAttributePair[Any]] = [
            SearchAttributePair(sa.KIND, "unfunded_claim"),
            SearchAttributePair(sa.STATUS, "submitted" if n % 3 else "acknowledged"),
            SearchAttributePair(sa.PAYER, "QKS"),
            SearchAttributePair(sa.BALL_HOLDER, "payer"),
            SearchAttributePair(sa.LADDER_LEVEL, 1 + n % 3),
            SearchAttributePair(sa.OVERDUE, n % 7 == 0),
            SearchAttributePair(sa.STALLED, False),
            SearchAttributePair(sa.UNDERPAID, False),
            SearchAttributePair(sa.NEXT_DEADLINE, add_working_days(LEGACY_CALENDAR, now, 1 + n % 40)),
            SearchAttributePair(sa.TITLE, f"Onward referrals {word} batch {n}"),
            SearchAttributePair(sa.PRACTICES, [f"G8{n:04d}"]),
            SearchAttributePair(sa.CONTACTS, [f"contact{n}@kmicb.example"]),
            SearchAttributePair(sa.PRACTICE_COUNT, 1),
            SearchAttributePair(sa.CLAIMED, sa.pence_keyword(1000_00 + n * 100)),
            SearchAttributePair(sa.AGREED, sa.pence_keyword(0)),
            SearchAttributePair(sa.PAID, sa.pence_keyword(0)),
            SearchAttributePair(sa.EMAILS_HELD, "no"),
        ]
        async with gate:
            await client.start_workflow(
                "UnfundedClaim", id=eid, task_queue=queue, search_attributes=TypedSearchAttributes(attributes)
            )
        return eid

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def test_search_sort_and_page_through_500_escalations(
    browser: Browser, dev_env: WorkflowEnvironment, site: Settings, tmp_path: Path
) -> None:
    word = f"Seed{uuid.uuid4().hex[:6]}"
    ids = await seed(dev_env.client, word, SEEDED)
    try:
        page = await signed_in(browser, site, "officer")
        await page.fill("#q", word)
        await page.click("form.search button[type=submit]")
        for _ in range(60):  # visibility catches up within a moment
            if await page.locator("text=500 match").count():
                break
            await asyncio.sleep(0.25)
            await page.reload()
        rows = page.locator("table.rows tbody tr")
        assert await rows.count() == 50
        assert await page.locator("text=Showing 1 to 50 of 500").count() == 1
        await no_serious_violations(page)
        await page.screenshot(path=str(shots(tmp_path) / "dashboard.png"), full_page=False)

        seen = set(await page.locator("table.rows tbody tr td:first-child a").all_inner_texts())
        await page.click("a[rel=next]")  # Temporal's page token
        await page.wait_for_selector("text=Showing 51 to 100 of 500")
        second = set(await page.locator("table.rows tbody tr td:first-child a").all_inner_texts())
        assert len(second) == 50 and not seen & second

        await page.click("th >> text=Claimed")  # biggest claim first
        await page.wait_for_selector("th[aria-sort=descending] >> text=Claimed")
        first_row = page.locator("table.rows tbody tr").first
        assert ids[-1] in await first_row.inner_text() and "£1,499.00" in await first_row.inner_text()
        await page.click("th >> text=Claimed")  # and back: smallest first
        await page.wait_for_selector("th[aria-sort=ascending] >> text=Claimed")
        assert ids[0] in await page.locator("table.rows tbody tr").first.inner_text()
        await page.click("a[rel=next]")  # sorted pages go on in order
        await page.wait_for_selector("text=Showing 51 to 100 of 500")
        assert ids[50] in await page.locator("table.rows tbody tr").first.inner_text()

        for search, wanted in ((ids[123], ids[123]), ("G80321", ids[321]), ("contact77@kmicb.example", ids[77])):
            await page.fill("#q", search)
            await page.click("form.search button[type=submit]")
            await page.wait_for_selector("text=Showing 1 to 1 of 1")
            assert wanted in await page.locator("table.rows tbody").inner_text()

        await page.goto(f"{site.base_url}/console?q={word}")
        await page.click("a[role=button] >> text=Overdue")  # one click
        await page.wait_for_selector("text=72 match")  # every seventh of 500
    finally:
        await asyncio.gather(*(dev_env.client.get_workflow_handle(i).terminate(reason="seeded") for i in ids))


async def test_an_incidents_practices_a_form_error_the_report_and_axe_on_every_page(
    browser: Browser, dev_env: WorkflowEnvironment, site: Settings, tmp_path: Path
) -> None:
    client = dev_env.client
    pathology = BY_NAME["pathology_error"]
    data: dict[str, Any] = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    data["practices"] = data["practices"][:6]
    codes = [p["ods"] for p in data["practices"]]
    eid = f"PEC-2026-B{uuid.uuid4().hex[:5].upper()}"
    config = site.escalation_config()
    await starting.start(client, site, pathology, starting.prepare(pathology, config, data, eid))
    claim = starting.prepare(
        BY_NAME["unfunded_claim"], config, json.loads((ROOT / "examples" / "unfunded_claim_kent.json").read_text())
    )
    claim_id = await starting.start(client, site, BY_NAME["unfunded_claim"], claim)
    for _ in range(100):  # every practice's request has started
        try:
            for ods in codes[:3]:
                await acting.respond(client, f"{eid}-{ods}", practice(ods, counts=counts(len(ods))))
            break
        except Refused:  # a practice's request not started yet: try again
            await asyncio.sleep(0.2)

    page = await signed_in(browser, site, "admin")
    await page.goto(f"{site.base_url}/console/e/{eid}/practices")
    for _ in range(60):
        if await page.locator("td >> text=/^returned/").count() >= 3:
            break
        await asyncio.sleep(0.25)
        await page.reload()
    assert await page.locator("table.rows tbody tr").count() == 6
    await page.screenshot(path=str(shots(tmp_path) / "incident.png"), full_page=True)
    await no_serious_violations(page)
    await page.select_option("#returned", "no")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**returned=no**")
    assert await page.locator("table.rows tbody tr").count() == 3
    async with page.expect_download() as download_info:
        await page.click("a[download]")
    exported = Path(await (await download_info.value).path()).read_text()
    assert "Claimed (GBP)" in exported and all(ods in exported for ods in codes[3:]) and codes[0] not in exported
    await page.click(f"a[href='/console/e/{eid}-{codes[4]}']")  # the practice's own request
    await page.wait_for_url(f"**/console/e/{eid}-{codes[4]}")
    assert codes[4] in await page.content()

    # A form error beside its field, everything typed kept.
    await page.goto(f"{site.base_url}/console/start/unfunded_claim")
    await page.fill("#title", "Fit notes pushed to practices")
    await page.fill("#provider", "Maidstone and Tunbridge Wells NHS Trust")
    await page.fill("#practices", "G82001 G82002")
    await page.fill("#period_start", "2026-07-01")
    await page.fill("#period_end", "2026-09-30")
    await page.select_option("#lines-0-category", "fit_note")
    await page.fill("#lines-0-count", "eleven")
    await page.fill("#lines-0-evidence_refs", "KLMC-1730")
    await page.click("button:has-text('Start')")
    await page.wait_for_selector("#lines-0-count-error")
    error = page.locator("#lines-0-count-error")
    assert await error.is_visible()
    box, field = await error.bounding_box(), await page.locator("#lines-0-count").bounding_box()
    assert box is not None and field is not None and abs(box["y"] - field["y"]) < 60, "beside its field"
    assert await page.locator(".error-summary a[href='#lines-0-count']").count() == 1
    assert await page.input_value("#lines-0-count") == "eleven"
    assert await page.input_value("#title") == "Fit notes pushed to practices"
    assert await page.input_value("#lines-0-evidence_refs") == "KLMC-1730"
    await no_serious_violations(page)

    # The report: a chart with its axes in pounds, and the CSV.
    await acting.respond(client, claim_id, payer("accept"))
    await page.goto(f"{site.base_url}/console/report?from=2017-07-01&to=2017-09-30&payer=QKS")
    await page.wait_for_selector("svg >> text=Amount (£)")
    assert await page.locator("svg >> text=£0").count() >= 1
    await page.screenshot(path=str(shots(tmp_path) / "report.png"), full_page=True)
    await no_serious_violations(page)
    async with page.expect_download() as download_info:
        await page.click("a[download]")
    report_csv = Path(await (await download_info.value).path()).read_text()
    assert "1 July 2017 to" in report_csv.splitlines()[0] and "Claimed (GBP)" in report_csv

    # axe-core on every other console page.
    for path in (
        "/console",
        f"/console/e/{eid}",
        f"/console/e/{claim_id}",
        "/console/start/pathology_error",
        "/console/start/deregistration",
        "/console/failing",
        "/console/users",
        "/console/security",
        "/dev/mail",
    ):
        await page.goto(f"{site.base_url}{path}")
        await no_serious_violations(page)
    await client.get_workflow_handle(eid).terminate(reason="browser test over")
    await client.get_workflow_handle(claim_id).terminate(reason="browser test over")


async def test_a_contact_changed_in_the_browser_gets_the_next_reminder_and_the_old_link_is_withdrawn(
    browser: Browser, time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    """On the time-skipping server: the officer changes the ICB's contact on the escalation's page; the latest
    request goes again to the new contact, the next reminder goes to them too, and the old link is withdrawn."""
    eid = await starting.start(time_client, settings, CLAIM, example_start(settings))
    [first] = await inbox.wait_for(eid, 1)
    old = re.search(r"/r/\S+", first.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert old is not None and ICB_L1 in str(first["To"])
    Users(make_engine(settings.database)).add("contacts@lmc.example", "officer", PASSWORD)
    web_port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, time_client), port=web_port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{web_port}"
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        page = await browser.new_page()
        await page.goto(f"{base}/login")
        await page.fill("#email", "contacts@lmc.example")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/console")
        await page.goto(f"{base}/console/e/{eid}")
        await page.select_option("#replace-recipient", ICB_L1)
        await page.fill("#replace-new_name", "Robin Newcombe")
        await page.fill("#replace-new_email", "robin.newcombe@kmicb.example")
        await page.fill("#replace-reason", "Ian has left the ICB")
        await page.click("button:has-text('Change the contact')")
        await page.wait_for_url("**replaced=1")

        resent = (await inbox.wait_for(eid, 2))[-1]
        assert "robin.newcombe@kmicb.example" in str(resent["To"])
        await skip_past_deadline(time_env, eid)  # the acknowledgement is missed: a reminder
        reminder = (await inbox.wait_for(eid, 3))[-1]
        assert "robin.newcombe@kmicb.example" in str(reminder["To"]) and ICB_L1 not in str(reminder["To"])
        assert "Reminder" in str(reminder["Subject"])

        answer = await page.goto(f"{base}{old.group(0)}")
        assert answer is not None and answer.status == 410
        assert "withdrawn" in (await page.content()).lower()
    finally:
        server.should_exit = True
        await serving
        await acting.respond(time_client, eid, officer("withdraw", reasons="contact test over"))
