"""Interface alerts in a real browser (Debian's Chromium, driven by Playwright): the practice's alert form
behind its standing link (an error beside its field, nothing typed lost, then reported), the provider's
answer page behind the digest's link, and the officer's pattern view. Screenshots land in docs/ with
UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from playwright.async_api import Browser
from temporalio.testing import WorkflowEnvironment

from domain.contacts import Role
from links.signing import LinkGrant, sign_link
from mail.sink import start_sink
from persistence.database import make_engine
from persistence.practices import Practices
from persistence.users import Users
from service import practices
from settings import Settings
from tests.conftest import free_port
from tests.test_browser import DOCS, browser, pytestmark  # noqa: F401  (the fixture, and the Chromium check)
from web.app import create_app
from worker import build_worker

LIAISON = "gp.liaison@mtw.example"


async def test_a_practice_reports_an_alert_the_provider_answers_and_the_officer_sees_the_pattern(
    browser: Browser,  # noqa: F811
    dev_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
) -> None:
    smtp_port, web_port = free_port(), free_port()
    sink = start_sink(tmp_path / "mail", port=smtp_port)
    local = settings.model_copy(
        update={
            "var_dir": tmp_path,
            "smtp_port": smtp_port,
            "base_url": f"http://127.0.0.1:{web_port}",
            "task_queue": f"browser-alerts-{uuid.uuid4().hex[:6]}",
        }
    )
    engine = make_engine(local.database)
    Users(engine).add("ceo@lmc.example", "officer", "a long browser password")
    csv = tmp_path / "practices.csv"
    csv.write_text(
        "Organisation Code,Name,Address Line 1,Postcode,Commissioner,Status Code,Contact Email\n"
        "G82001,Example Surgery,1 High Street,ME14 1AA,QKS,A,pm.g82001@practice.example\n",
        encoding="utf-8",
    )
    await practices.load(local, engine, csv)
    row = Practices(engine).get("G82001")
    assert row is not None
    own_page = practices.standing_link(local, row, datetime.now(UTC))
    server = uvicorn.Server(uvicorn.Config(create_app(local, dev_env.client), port=web_port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    base = local.base_url
    shots = DOCS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    try:
        async with build_worker(dev_env.client, local):
            while not server.started:
                await asyncio.sleep(0.05)
            page = await browser.new_page(viewport={"width": 1000, "height": 1400})

            # The practice: an NHS number in the reference is refused beside its field; nothing typed is lost.
            await page.goto(own_page)
            await page.select_option("#provider_code", "RWF")
            await page.fill("#service", "Dermatology outpatients")
            await page.select_option("#category", "onward_referral")
            await page.fill("#occurred_on", (datetime.now(UTC).date() - timedelta(days=1)).isoformat())
            await page.fill("#document_ref", "943 476 5919")
            await page.fill("#items", "2")
            await page.fill("#what_happened", "The clinic letter asks us to refer on to plastic surgery.")
            await page.fill("#staff_minutes", "20")
            await page.click("button:has-text('Report the alert')")
            error = page.locator("#document_ref-error")
            await error.wait_for()
            assert "NHS number" in await error.inner_text()
            assert await page.input_value("#service") == "Dermatology outpatients"
            assert (
                await page.input_value("#what_happened") == "The clinic letter asks us to refer on to plastic surgery."
            )
            assert await page.input_value("#staff_minutes") == "20"
            assert await page.input_value("#category") == "onward_referral"
            await page.screenshot(path=str(shots / "alert-form-error.png"), full_page=True)
            await page.fill("#document_ref", "LTR-DERM-4471")
            await page.click("button:has-text('Report the alert')")
            reported = page.locator("[role=status]")
            await reported.wait_for()
            text = await reported.inner_text()
            reference = text.split("Your alert ")[1].split(" ")[0]
            await page.locator("#alerts").get_by_text(reference).wait_for()
            # Ready for the next alert from the same clinic: provider, service and date kept, the rest empty.
            assert await page.input_value("#provider_code") == "RWF"
            assert await page.input_value("#service") == "Dermatology outpatients"
            assert await page.input_value("#document_ref") == "" and await page.input_value("#what_happened") == ""
            await page.screenshot(path=str(shots / "alert-form.png"), full_page=True)

            # The provider, through the link the day's digest gives it for this alert.
            grant = LinkGrant(reference, LIAISON, Role.PAYER, datetime.now(UTC) + timedelta(days=30))
            await page.goto(f"{base}/r/{sign_link(local.link_keys, grant)}")
            await page.get_by_text("LTR-DERM-4471").first.wait_for()
            await page.fill("#acknowledge-text", "Clinic reminded to refer onward itself (SC8.4).")
            await page.click("button:has-text('Acknowledge, with the action taken')")
            await page.get_by_text("Recorded.").wait_for()
            await page.screenshot(path=str(shots / "alert-answer.png"), full_page=True)

            # The practice sees the answer.
            await page.goto(own_page)
            await page.get_by_text("Clinic reminded to refer onward itself (SC8.4).").wait_for()

            # The officer's pattern view.
            await page.goto(f"{base}/console")
            await page.fill("#email", "ceo@lmc.example")
            await page.fill("#password", "a long browser password")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/console")
            await page.goto(f"{base}/console/alerts")
            table = page.locator("#patterns")
            await table.get_by_text("Maidstone and Tunbridge Wells NHS Trust").wait_for()
            await page.click("summary")
            await page.get_by_label(reference, exact=False).wait_for()
            await page.screenshot(path=str(shots / "alert-patterns.png"), full_page=True)
    finally:
        server.should_exit = True
        await serving
        sink.stop()
