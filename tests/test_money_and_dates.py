"""Issue #12 end to end, through the paths people use: the pages behind email links (POSTed in-process
against the real dev server) and `starter.py` as a separate process. One test per rule: money above
£0 (and refusing to pay), working-day dates not in the past, deregistration dates inside the incident,
a counter-offer's terms carried into the agreement, and a payment other than the agreed amount kept
open with its gap shown and the Underpaid search attribute set."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import LEGACY_CALENDAR
from domain.contacts import Role
from domain.deregistration import DeregistrationCase
from domain.form_response import GROUP_ROWS
from domain.responses import ResponseInput
from domain.working_days import describe_date, describe_day, london_date, next_working_day
from service import acting, starting
from settings import ROOT, Settings
from tests.conftest import Inbox, body_text
from tests.helpers import DEREGISTRATION, EXAMPLE, OFFICER, example_data, settled_view, summary_of
from tests.test_replay import replay_and_maybe_record
from tests.test_starter_cli import cli_env, run_cli
from web.app import create_app
from workflows import search_attributes as sa

ICB_L1 = "pc.commissioning@nwlicb.example"  # NWL ICB, the deregistration payer
DEREGISTRATION_EXAMPLE = ROOT / "examples" / "deregistration_nwl_pathfinder.json"
PATHOLOGY_EXAMPLE = ROOT / "examples" / "pathology_nwl_uacr.json"


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


async def email_to(inbox: Inbox, escalation_id: str, recipient: str, subject_has: str) -> EmailMessage:
    """The newest email about one case to `recipient` whose subject has `subject_has`, once it arrives."""
    for _ in range(300):
        found = [m for m in inbox.for_case(escalation_id) if to_of(m) == recipient and subject_has in str(m["Subject"])]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email to {recipient} about {escalation_id} with '{subject_has}'")


def today() -> date:
    return london_date(datetime.now(UTC))


def a_bank_holiday_ahead() -> date:
    """The first weekday bank holiday at least a week from today: refused, its next working day offered."""
    return min(d for d in LEGACY_CALENDAR.holidays if d >= today() + timedelta(days=7) and d.weekday() < 5)


def a_working_day_ahead(days: int) -> date:
    return next_working_day(LEGACY_CALENDAR, today() + timedelta(days=days))


async def start_file(env: dict[str, str], command: str, data: dict[str, Any], tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(data))
    return await run_cli(env, command, str(path))


async def start_claim(env: dict[str, str], inbox: Inbox) -> tuple[str, str]:
    """The Kent claim, started from the CLI; its reference and the ICB contact's link."""
    code, out, err = await run_cli(env, "start-claim", str(EXAMPLE), "--again")  # the example, once a scenario
    assert code == 0, err
    eid = out.strip().splitlines()[-1]
    [request] = await inbox.wait_for(eid, 1)
    return eid, link_in(request)


async def start_deregistration(client: Client, settings: Settings, inbox: Inbox) -> tuple[str, list[str]]:
    """The NWL deregistrations with two practices (E85011 weighted 1.05, E85012 weighted 1.0)."""
    data = json.loads(DEREGISTRATION_EXAMPLE.read_text())
    data["practices"] = data["practices"][:2]
    eid = f"PDR-MAD-{uuid.uuid4().hex[:6].upper()}"
    await starting.start(
        client, settings, DEREGISTRATION, starting.prepare(DEREGISTRATION, settings.escalation_config(), data, eid)
    )
    await inbox.wait_for(eid, 3, family=True)  # two return requests and the ICB's message
    return eid, [p["ods"] for p in data["practices"]]


def practice_reply(ods: str, action: str = "submit_return", **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=f"pm.{ods.lower()}@nhs.example", actor_role=Role.PRACTICE, **fields)


async def to_the_pot(
    client: Client, settings: Settings, inbox: Inbox, env: dict[str, str]
) -> tuple[str, list[str], str]:
    """A deregistration with one practice's return in and returns closed: the ICB's pot link."""
    eid, codes = await start_deregistration(client, settings, inbox)
    groups = [{"patients": 10, "days_off": 30}]
    await acting.respond(client, f"{eid}-{codes[1]}", practice_reply(codes[1], groups=groups))
    code, _, err = await run_cli(env, "close-returns", eid)
    assert code == 0, err
    [pot_request] = await inbox.wait_for(f"{eid}-POT", 1)
    assert to_of(pot_request) == ICB_L1
    return eid, codes, link_in(pot_request)


async def underpaid_attribute(client: Client, escalation_id: str, expected: bool) -> None:
    for _ in range(100):  # published once the step's audit and emails are done
        described = await client.get_workflow_handle(escalation_id).describe()
        if described.typed_search_attributes.get(sa.UNDERPAID) is expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{escalation_id}: Underpaid never became {expected}")


async def listed_as_underpaid(client: Client, escalation_id: str) -> None:
    for _ in range(100):  # visibility is eventually consistent
        if [wf async for wf in client.list_workflows(f"{sa.UNDERPAID.name} = true AND WorkflowId = '{escalation_id}'")]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{escalation_id} is not found by Underpaid = true")


# --- 1. money above £0, and "no money" said by refusing -------------------------------------
async def test_nothing_is_refused_as_a_rate_or_a_pot_and_the_icb_says_no_by_refusing_to_pay(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    env = cli_env(dev_env, settings)
    claim = example_data()
    claim["lines"][0]["unit_rate_pence"] = 0
    code, _, err = await start_file(env, "start-claim", claim, tmp_path)
    assert code == 2 and "lines.0.unit_rate_pence: a rate must be more than £0.00" in err
    pathology = json.loads(PATHOLOGY_EXAMPLE.read_text())
    pathology["tariff"][2]["rate_pence"] = 0
    code, _, err = await start_file(env, "start-pathology", pathology, tmp_path)
    assert code == 2 and "tariff.2.rate_pence: a rate must be more than £0.00" in err

    client = dev_env.client
    eid, _, pot_link = await to_the_pot(client, settings, inbox, env)
    page = await web.get(pot_link)
    assert page.status_code == 200 and "Refuse to pay, with reasons" in page.text
    payday = a_working_day_ahead(30).isoformat()
    nothing = await web.post(pot_link, data={"action": "confirm", "amount": "0", "on_date": payday})
    assert nothing.status_code == 422, nothing.text
    assert "Error: must be more than £0.00" in nothing.text  # beside its box, labelled once
    assert "Pot for redistribution (£): Pot for redistribution" not in nothing.text
    assert "Refuse to pay, with reasons" in nothing.text
    refused = await web.post(pot_link, data={"action": "refuse", "reasons": "No budget for redistribution"})
    assert refused.status_code == 200 and "Refusal recorded" in refused.text

    view = await settled_view(client, eid, lambda v: v.status == "pot_refused")
    assert view.outcome is None and view.wait is not None and view.wait.holder == "officer"
    told = await email_to(inbox, eid, OFFICER, "refuses to pay")
    assert "No budget for redistribution" in " ".join(body_text(told).split())
    code, out, _ = await run_cli(env, "show", eid)
    assert code == 0 and "pot refused" in out and "refused" in out and "settled" not in out
    code, out, err = await run_cli(env, "close-incident", eid, "--reasons", "Refusal taken to the liaison meeting")
    assert code == 0, err
    final = await client.get_workflow_handle(eid).result()
    assert final["outcome"] == "closed_by_officer"


# --- 2. working-day dates, not in the past ---------------------------------------------------
async def test_a_date_on_a_bank_holiday_weekend_or_in_the_past_is_refused_with_the_next_working_day(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    env = cli_env(dev_env, settings)
    client = dev_env.client
    eid, link = await start_claim(env, inbox)
    holiday = a_bank_holiday_ahead()
    offered = describe_day(next_working_day(LEGACY_CALENDAR, holiday))
    on_holiday = await web.post(link, data={"action": "accept", "on_date": holiday.isoformat()})
    assert on_holiday.status_code == 422, on_holiday.text
    assert (
        f"a payment date must be a working day, not in the past; {describe_date(holiday)} is a bank holiday"
        in on_holiday.text
    )
    assert f"the next working day is {offered}" in on_holiday.text
    past = today() - timedelta(days=3)
    in_the_past = await web.post(
        link, data={"action": "accept_part", "amount": "2000", "reasons": "Part", "on_date": past.isoformat()}
    )
    assert in_the_past.status_code == 422 and f"{describe_date(past)} is in the past" in in_the_past.text
    assert (await summary_of(client, eid)).status == "submitted"  # nothing was recorded
    good = next_working_day(LEGACY_CALENDAR, holiday)
    accepted = await web.post(link, data={"action": "accept", "on_date": good.isoformat()})
    assert accepted.status_code == 200 and describe_date(good) in accepted.text
    await acting.respond(
        client, eid, ResponseInput(action="withdraw", actor_email=OFFICER, actor_role=Role.OFFICER, reasons="test over")
    )

    # The officer's return deadline: a weekend day after the current deadline is refused, Monday offered.
    incident, _ = await start_deregistration(client, settings, inbox)
    view = await summary_of(client, incident)
    assert view.wait is not None and view.wait.deadline is not None
    saturday = london_date(datetime.fromisoformat(view.wait.deadline)) + timedelta(days=1)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    code, _, err = await run_cli(env, "extend-returns", incident, "--date", saturday.isoformat())
    assert code == 2, err
    assert (
        f"--date: a return deadline must be a working day, not in the past; {describe_date(saturday)} is a Saturday"
        in err
    )
    assert f"the next working day is {describe_day(next_working_day(LEGACY_CALENDAR, saturday))}" in err
    code, out, err = await run_cli(
        env, "extend-returns", incident, "--date", next_working_day(LEGACY_CALENDAR, saturday).isoformat()
    )
    assert code == 0, err
    await run_cli(env, "close-incident", incident, "--reasons", "test over")

    # A return deadline set at the start, on a bank holiday.
    pathology = json.loads(PATHOLOGY_EXAMPLE.read_text())
    pathology["return_deadline"] = holiday.isoformat()
    code, _, err = await start_file(env, "start-pathology", pathology, tmp_path)
    assert code == 2 and "return_deadline: a return deadline must be a working day" in err
    assert f"the next working day is {offered}" in err


# --- 3. deregistration dates inside the incident, still-off days counted at both ends ----------
async def test_a_practices_return_outside_the_incident_is_refused_and_days_still_off_count_both_ends(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    env = cli_env(dev_env, settings)
    client = dev_env.client
    eid, codes = await start_deregistration(client, settings, inbox)
    ods = codes[1]  # weighted 1.0
    [request] = await inbox.wait_for(f"{eid}-{ods}", 1)
    link = link_in(request)
    after = {
        "action": "submit_return",
        "groups.0.patients": "10",
        "groups.0.still_off": "on",
        "groups.0.off_since": "2025-04-10",
    }
    refused = await web.post(link, data=after)
    assert refused.status_code == 422, refused.text
    assert "Patients deregistered, group 1, off since: 10 April 2025 is after the cut-off" in refused.text
    assert "from 1 April 2024 to 31 March 2025" in refused.text
    too_long = await web.post(
        link, data={"action": "submit_return", "groups.0.patients": "10", "groups.0.days_off": "400"}
    )
    assert (
        too_long.status_code == 422
        and "Patients deregistered, group 1, days off the list: 400 days is longer than the incident (365 days"
        in too_long.text
    )
    assert f"More groups (up to {GROUP_ROWS} in all)" in (await web.get(link)).text  # past the eight rows shown
    many = {"action": "submit_return"} | {
        f"groups.{n}.{box}": "1" for n in range(30) for box in ("patients", "days_off")
    }
    thirty = await web.post(link, data=many)
    assert thirty.status_code == 200 and "Return recorded" in thirty.text
    practice = await summary_of(client, f"{eid}-{ods}")
    assert len(practice.case["groups"]) == 30  # all read, where rows past the eighth, then the twentieth, were not
    good = {
        "action": "submit_return",
        "groups.0.patients": "10",
        "groups.0.still_off": "on",
        "groups.0.off_since": "2025-03-01",
    }
    done = await web.post(link, data=good)
    assert done.status_code == 200 and "Correction recorded" in done.text

    code, _, err = await run_cli(env, "close-returns", eid)
    assert code == 0, err
    view = await settled_view(client, eid, lambda v: v.status == "awaiting_pot")
    # 1 to 31 March 2025, both ends: 31 days, 10 x £112.50 x 31 / 365 = £95.55 (the old count made it 30 days, £92.47)
    assert view.case_as(DeregistrationCase).claimed == {ods: 9_555}
    code, out, _ = await run_cli(env, "show", eid)
    assert code == 0 and "£95.55" in out
    await run_cli(env, "close-incident", eid, "--reasons", "test over")
    # The shape with every group row a return may give (its patch marker) recorded for replay, beside the histories
    # of eight and of twenty.
    await replay_and_maybe_record(client, f"{eid}-{ods}", "practice_return_all_group_rows")


# --- 4. a counter-offer's terms carry into the agreement ---------------------------------------
async def test_accepting_a_counter_offer_keeps_its_amount_payment_date_and_reasons(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    env = cli_env(dev_env, settings)
    eid, link = await start_claim(env, inbox)
    payday = a_working_day_ahead(45)
    offer = {
        "action": "accept_part",
        "amount": "2000",
        "reasons": "Referrals only, not fit notes",
        "on_date": payday.isoformat(),
    }
    offered = await web.post(link, data=offer)
    assert offered.status_code == 200 and "Counter-offer of £2,000.00 recorded" in offered.text
    code, out, err = await run_cli(env, "accept-offer", eid)
    assert code == 0, err
    assert f"Payment of £2,000.00 expected by {describe_date(payday)}" in out
    code, out, _ = await run_cli(env, "show", eid)
    assert code == 0
    assert re.search(r"Agreed: £2,000\.00", out) and re.search(r"Terms agreed: Referrals only, not fit notes", out)
    assert f"Payment expected by: {describe_date(payday)}" in out
    accepted = await email_to(inbox, eid, "primarycare.contracts@kmicb.example", "Counter-offer accepted")
    assert "On your terms: Referrals only, not fit notes" in " ".join(body_text(accepted).split())
    await run_cli(env, "withdraw", eid, "--reasons", "test over")


# --- 5. paid against agreed: the gap shown, the escalation kept open, Underpaid set -------------
async def test_an_underpayment_keeps_the_claim_open_with_its_gap_until_the_officer_chases_the_rest(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    env = cli_env(dev_env, settings)
    client = dev_env.client
    eid, link = await start_claim(env, inbox)
    assert (await web.post(link, data={"action": "accept"})).status_code == 200
    code, out, err = await run_cli(env, "confirm-payment", eid, "--amount-pence", "0")
    assert code == 2 and "--amount-pence: the amount received must be more than £0.00" in err
    code, out, err = await run_cli(env, "confirm-payment", eid, "--amount-pence", "99999999999999999999999")
    assert code == 2 and "--amount-pence: £999,999,999,999,999,999,999.99 is more than any claim could be" in err, err
    code, out, err = await run_cli(env, "confirm-payment", eid, "--amount-pence", "280000")
    assert code == 0, err
    assert "£2,800.00 received against £2,837.00 due: £37.00 short" in out and "(now: paid less than agreed)" in out

    code, out, _ = await run_cli(env, "show", eid)
    assert code == 0
    assert re.search(r"Received: £2,800\.00", out) and re.search(r"Underpaid by: £37\.00", out)
    officer_may = next(line for line in out.splitlines() if "Officer may:" in line)
    assert all(f"({c} ID)" in officer_may for c in ("chase-balance", "accept-shortfall", "withdraw")), officer_may
    assert "Outcome" not in out
    view = await summary_of(client, eid)
    assert (view.status, view.outcome, view.payment_gap_pence) == ("underpaid", None, -3_700)
    await underpaid_attribute(client, eid, True)
    await listed_as_underpaid(client, eid)

    # The officer chases the rest from the link in the email about the shortfall.
    short = await email_to(inbox, eid, OFFICER, "Payment short")
    officer_link = link_in(short)
    page = await web.get(officer_link)
    assert (
        page.status_code == 200 and "Chase the rest of the payment" in page.text and "Accept the shortfall" in page.text
    )
    chased = await web.post(officer_link, data={"action": "chase_balance"})
    assert chased.status_code == 200 and "Chasing the rest: £37.00" in chased.text
    await email_to(inbox, eid, "primarycare.contracts@kmicb.example", "£37.00 outstanding")
    code, out, err = await run_cli(env, "confirm-payment", eid)  # the rest arrives
    assert code == 0 and "Payment of £2,837.00 confirmed; the claim is closed." in out, err
    final = await client.get_workflow_handle(eid).result()
    assert (final["outcome"], final["payment_gap_pence"]) == ("paid", 0)
    await underpaid_attribute(client, eid, False)
    await replay_and_maybe_record(client, eid, "unfunded_claim_underpaid_then_chased")


async def test_a_practice_paid_short_stays_open_and_the_incident_is_not_settled_until_the_officer_decides(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    env = cli_env(dev_env, settings)
    client = dev_env.client
    eid, codes, pot_link = await to_the_pot(client, settings, inbox, env)
    ods = codes[1]
    practice_id = f"{eid}-{ods}"
    payday = a_working_day_ahead(20)
    # E85012's loss: 10 x £112.50 x 30 / 365 = £92.47; E85011 sent no return and is due nothing.
    pot = await web.post(pot_link, data={"action": "confirm", "amount": "92.47", "on_date": payday.isoformat()})
    assert pot.status_code == 200, pot.text
    share = await email_to(inbox, practice_id, f"pm.{ods.lower()}@nhs.example", "Your share")
    short = await web.post(link_in(share), data={"action": "confirm_receipt", "amount": "90"})
    assert short.status_code == 200 and "£90.00 received against £92.47 due: £2.47 short" in short.text
    mine = await web.get(link_in(share))  # a slip in the amount typed can be corrected while the LMC decides
    assert "Correct the amount you confirmed" in mine.text and "Confirm the payment was received" not in mine.text
    blank = await web.post(link_in(share), data={"action": "correct_receipt", "amount": ""})
    assert blank.status_code == 422 and "required" in blank.text

    code, out, _ = await run_cli(env, "show", practice_id)
    assert code == 0 and re.search(r"Underpaid by: £2\.47", out) and "paid less than agreed" in out
    await underpaid_attribute(client, practice_id, True)
    incident = await summary_of(client, eid)
    assert incident.outcome is None and not incident.case_as(DeregistrationCase).practices_settled

    asked = await email_to(inbox, practice_id, OFFICER, "was paid £2.47 less than its share")
    said = body_text(asked)  # the officer reads whose share it is: "your" is for the practice
    assert "The practice's share" in said and "Your share" not in said, said
    page = await web.get(link_in(asked))  # and so does the page behind its link
    assert "The practice&#39;s share" in page.text and "Your share" not in page.text, page.text
    accepted = await web.post(link_in(asked), data={"action": "accept_shortfall", "reasons": "Agreed at liaison"})
    assert accepted.status_code == 200 and "Accepted" in accepted.text
    final = await client.get_workflow_handle(practice_id).result()
    assert (final["outcome"], final["payment_gap_pence"]) == ("paid_short", -247)
    view = await settled_view(client, eid, lambda v: v.case_as(DeregistrationCase).practices_settled)
    assert ("Practices closed", "nothing due: 1, paid short: 1") in [tuple(f) for f in view.facts]
    await run_cli(env, "close-incident", eid, "--reasons", "test over")
