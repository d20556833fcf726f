"""Issue #14 end to end, on the real dev server, SMTP and web app: the ICB's link page shows every
claim line; the trust's email carries the payment schedule as a CSV adding up to the claim; and after
the ICB refuses a year-end mechanism, the officer's page offers the next steps and each works."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import formatting
from domain.configuration import EscalationConfig
from domain.contacts import Role
from domain.responses import ResponseInput
from domain.unfunded_claim import CONTRACT_DUTIES, priced_claim
from service import acting, starting
from settings import ROOT, Settings
from tests.conftest import Inbox, body_text
from tests.helpers import CLAIM, OFFICER, PATHOLOGY, example_data, example_start, summary_of, working_day_after
from tests.test_pathology import practice
from tests.test_replay import replay_and_maybe_record
from tests.test_starter_cli import cli_env, run_cli
from web.app import create_app

PATHOLOGY_EXAMPLE = ROOT / "examples" / "pathology_nwl_uacr.json"
NWL_L1, NWL_L2 = "pc.commissioning@nwlicb.example", "director.primarycare@nwlicb.example"
TRUST_L1 = "gp.liaison@imperial.example"


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def link_in(message: EmailMessage) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/r/[A-Za-z0-9_.-]+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


def to_of(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)


async def newest(inbox: Inbox, escalation_id: str, recipient: str, count: int) -> EmailMessage:
    """The newest of at least `count` emails about `escalation_id`, which must be to `recipient`."""
    message = (await inbox.wait_for(escalation_id, count))[-1]
    assert to_of(message) == recipient, (message["To"], message["Subject"])
    return message


async def test_the_icb_page_and_email_show_every_claim_line(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    config: EscalationConfig = settings.escalation_config()
    claim = priced_claim(example_data(), config.tariff)
    start = example_start(settings)
    eid = await starting.start(dev_env.client, settings, CLAIM, start)
    [request] = await inbox.wait_for(eid, 1)
    assert "reply by" in str(request["Subject"]) and str(request["Reply-To"]).endswith("<ceo@lmc.example>")
    page = (await web.get(link_in(request))).text
    email = " ".join(body_text(request, "html").split())
    for line in claim.lines:
        clause = CONTRACT_DUTIES[line.category][1]
        for shown in (
            formatting.money(line.amount_pence),
            formatting.money(line.unit_rate_pence),
            *line.evidence_refs,
            *([f"{clause} (2017/19)"] if clause else []),
        ):
            assert shown in page and shown in email, shown
    assert "£2,837.00" in page and "<caption>The claim, line by line</caption>" in page
    [attachment] = list(request.iter_attachments())
    rows = list(csv.DictReader(io.StringIO(attachment.get_content().removeprefix("\ufeff"))))
    assert sum(Decimal(r["Amount"]) for r in rows[:-1]) == Decimal(rows[-1]["Amount"]) == Decimal("2837.00")
    await acting.respond(dev_env.client, eid, acting_officer("withdraw", reasons="test over"))


def acting_officer(action: str, **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=OFFICER, actor_role=Role.OFFICER, **fields)


async def start_incident(dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox) -> tuple[str, list[str]]:
    """The uACR incident with three practices, year-end well ahead of today."""
    data = json.loads(PATHOLOGY_EXAMPLE.read_text())
    data["practices"] = data["practices"][:3]
    data["year_end_reconciliation_date"] = working_day_after(datetime.now(UTC), 120)
    eid = f"PEC-E2E-{uuid.uuid4().hex[:6].upper()}"
    start = starting.prepare(PATHOLOGY, settings.escalation_config(), data, eid)
    await starting.start(dev_env.client, settings, PATHOLOGY, start)
    await inbox.wait_for(eid, 5, family=True)  # three return requests, the ICB's year-end and the trust's report
    return eid, [p["ods"] for p in data["practices"]]


async def test_the_trusts_email_carries_the_schedule_as_a_csv_adding_up_to_the_claim(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    client = dev_env.client
    eid, codes = await start_incident(dev_env, settings, inbox)
    returns = {codes[0]: {"patients_reviewed": 10, "recall_appointments": 4, "repeat_tests": 2, "admin_hours": 1},
               codes[1]: {"patients_reviewed": 5, "recall_appointments": 0, "repeat_tests": 0, "admin_hours": 2}}  # fmt: skip
    for ods, counts in returns.items():
        await acting.respond(client, f"{eid}-{ods}", practice(ods, counts=counts))
    await acting.respond(client, eid, acting_officer("close_returns"))
    claim_id = f"{eid}-CLAIM"
    [claim] = await inbox.wait_for(claim_id, 1)
    assert to_of(claim) == TRUST_L1 and "pc.commissioning@nwlicb.example" in str(claim["Cc"])
    claimed = (await summary_of(client, claim_id)).case["claimed_pence"]
    [attachment] = list(claim.iter_attachments())
    assert attachment.get_filename() == "payment-schedule-practice-by-practice.csv"
    rows = list(csv.DictReader(io.StringIO(attachment.get_content().removeprefix("\ufeff"))))
    *lines, total = rows
    assert [r["ODS code"] for r in lines] == sorted(returns)
    assert sum(Decimal(r["Amount"]) for r in lines) == Decimal(total["Amount"]) == Decimal(claimed) / 100
    assert lines[0]["Practice"] == "Paddington Medical Centre", rows
    assert lines[0]["Recall appointment at £25.00 (example rate)"] == "4"
    page = (await web.get(link_in(claim))).text
    assert "Paddington Medical Centre" in page and formatting.money(claimed) in page
    await acting.respond(client, eid, acting_officer("close_incident", reasons="test over"))


async def test_after_a_year_end_refusal_the_officer_has_next_steps_and_each_works(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    client = dev_env.client
    env = cli_env(dev_env, settings)
    eid, _ = await start_incident(dev_env, settings, inbox)
    year_end = f"{eid}-YEAR-END"
    request = await newest(inbox, year_end, NWL_L1, 1)
    refused = await web.post(link_in(request), data={"action": "refuse", "reasons": "Reconciliation is national"})
    assert refused.status_code == 200 and "Refusal recorded" in refused.text

    # The officer is told, with a link whose page offers every next step.
    told = await newest(inbox, year_end, OFFICER, 2)
    assert "Refused" in str(told["Subject"]) and "Reconciliation is national" in body_text(told)
    officer_page = (await web.get(link_in(told))).text
    for step in (
        "Dispute the refusal (goes to a more senior contact)",
        "Reply with more information and ask again",
        "Accept the refusal and close this request",
        "Close this request, with reasons",
    ):
        assert f"<legend>{step}</legend>" in officer_page, step

    # Dispute (from the page): the senior contact is asked, with the history.
    disputed = await web.post(link_in(told), data={"action": "dispute", "reasons": "Other ICBs have done so"})
    assert disputed.status_code == 200 and "Dispute sent" in disputed.text
    senior = await newest(inbox, year_end, NWL_L2, 3)
    text = " ".join(body_text(senior).split())
    assert (
        "refused: Reconciliation is national" in text
        and "The LMC disputes the refusal: Other ICBs have done so" in text
    )

    # The senior contact refuses too; the officer replies with information (CLI); the ICB refuses again.
    await web.post(link_in(senior), data={"action": "refuse", "reasons": "Still national"})
    await newest(inbox, year_end, OFFICER, 4)
    code, out, err = await run_cli(
        env, "supply-info", year_end, "--text", "NHS England guidance allows a local mechanism"
    )
    assert code == 0, err
    again = await newest(inbox, year_end, NWL_L2, 5)
    assert "The LMC replies: NHS England guidance allows a local mechanism" in " ".join(body_text(again).split())
    await web.post(link_in(again), data={"action": "refuse", "reasons": "Our answer stands"})
    await newest(inbox, year_end, OFFICER, 6)

    # Accept the refusal (CLI): the request closes and the incident hears it was refused.
    code, out, err = await run_cli(env, "accept-refusal", year_end, "--reasons", "Taken to the liaison meeting")
    assert code == 0, err
    final = await client.get_workflow_handle(year_end).result()
    assert final["outcome"] == "refused"
    await replay_and_maybe_record(client, year_end, "confirmation_refusal_disputed_then_accepted")
    await acting.respond(client, eid, acting_officer("close_incident", reasons="test over"))
