"""Console sign-in and the Temporal Web UI's codec endpoint (ops staff only), over HTTP."""

from __future__ import annotations

import asyncio
import base64
import html
import os
import re
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from payload_codec import EncryptionCodec, parse_keys
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.sent_mail import SentMailLedger
from persistence.users import Users
from service import acting, starting
from settings import Settings
from tests.conftest import CutOffAfterData, Inbox, body_text, free_port, mail_server
from tests.helpers import CLAIM, csrf_in, csrf_of, example_start, officer, payer, sign_in, wait_until_listed
from tests.test_replay import replay_and_maybe_record
from web.app import create_app
from worker import build_worker

KEYS = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
UI = "http://127.0.0.1:8233"


@pytest.fixture
async def console(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(update={"payload_keys": KEYS, "payload_key_id": "k1"})
    users = Users(make_engine(configured.database))
    users.add("ops@lmc.example", "ops", "correct horse battery")
    users.add("ceo@lmc.example", "officer", "another long password")
    app = create_app(configured, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def sealed(text: bytes) -> dict[str, object]:
    [payload] = await EncryptionCodec(parse_keys(KEYS), "k1").encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=text)]
    )
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                "data": base64.b64encode(payload.data).decode(),
            }
        ]
    }


async def test_sign_in_refuses_bad_passwords_and_forms_without_csrf(console: httpx.AsyncClient) -> None:
    assert (await sign_in(console, "ops@lmc.example", "wrong password here")).status_code == 401
    assert (await sign_in(console, "ops@lmc.example", "correct horse battery", with_csrf=False)).status_code == 403
    ok = await sign_in(console, "ops@lmc.example", "correct horse battery")
    assert ok.status_code == 303 and "lmc_session" in ok.cookies
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


async def test_only_ops_staff_can_decode_payloads(console: httpx.AsyncClient) -> None:
    body = await sealed(b'{"title": "uACR"}')
    headers = {"X-Namespace": "default", "Origin": UI}
    assert (await console.post("/codec/decode", json=body, headers=headers)).status_code == 401
    await sign_in(console, "ceo@lmc.example", "another long password")
    assert (await console.post("/codec/decode", json=body, headers=headers)).status_code == 403
    await sign_in(console, "ops@lmc.example", "correct horse battery")
    assert (await console.post("/codec/decode", json=body)).status_code == 400  # no X-Namespace: not the UI
    decoded = await console.post("/codec/decode", json=body, headers=headers)
    assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == UI
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["data"]) == b'{"title": "uACR"}'
    preflight = await console.options("/codec/decode", headers={"Origin": UI, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-credentials"] == "true"


async def test_the_console_shows_escalations_to_signed_in_staff_only(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    assert (await console.get("/console")).headers["location"] == "/login"
    start = example_start(settings)
    eid = await starting.start(dev_env.client, settings, CLAIM, start)
    await inbox.wait_for(eid, 1)
    await sign_in(console, "ceo@lmc.example", "another long password")
    for _ in range(50):  # visibility is eventually consistent
        board = await console.get("/console", params={"kind": "unfunded_claim", "status": "submitted"})
        if eid in board.text:
            break
        await asyncio.sleep(0.2)
    assert eid in board.text
    typed = await console.get(f"/console/e/{eid.lower()}")  # a reference typed into the address bar
    assert typed.status_code == 301 and typed.headers["location"] == f"/console/e/{eid}"
    page = await console.get(f"/console/e/{eid}")
    assert page.status_code == 200
    assert "Hash chain: <strong>verified" in page.text and "working days left" in page.text
    assert "Claim for unfunded work" in page.text and "srcdoc=" in page.text  # the email as sent
    assert f"/namespaces/default/workflows/{eid}" in page.text
    refused = await console.get("/console", params={"status": "x' OR 1=1"})
    assert refused.status_code == 422 and "is not a status any escalation can be in" in refused.text
    pasted = "E87001 " * 3000  # 21,000 characters pasted into the search box: refused, and shown back once
    plain = await console.get("/console", params={"q": "E87001"})
    huge = await console.get("/console", params={"q": pasted})
    assert huge.status_code == 422 and huge.text.count(pasted.strip()) == 1
    assert len(huge.text) < len(plain.text) + 2 * len(pasted), (len(huge.text), len(plain.text))
    await acting.respond(dev_env.client, eid, officer("withdraw", reasons="console test over"))


async def test_console_actions_are_refused_server_side_for_the_wrong_role_csrf_or_a_conflict(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    Users(make_engine(settings.database)).add("medsec@lmc.example", "officer", "medsec long password")
    start = example_start(settings)
    eid = await starting.start(dev_env.client, settings, CLAIM, start)
    await inbox.wait_for(eid, 1)
    act, stop = f"/console/e/{eid}/act", f"/console/e/{eid}/terminate"
    signed_out = await console.post(act, data={"action": "withdraw", "reasons": "x"})
    assert signed_out.status_code == 401 and "Sign in" in signed_out.text and "nothing was recorded" in signed_out.text

    await sign_in(console, "ops@lmc.example", "correct horse battery")
    token = await csrf_of(console, f"/console/e/{eid}")
    assert (await console.post(act, data={"action": "withdraw", "reasons": "x", "csrf": token})).status_code == 403

    await sign_in(console, "medsec@lmc.example", "medsec long password")
    token = await csrf_of(console, f"/console/e/{eid}")
    assert (await console.post(act, data={"action": "withdraw", "reasons": "no token"})).status_code == 403
    assert (await console.post(stop, data={"reason": "not mine", "csrf": token})).status_code == 403
    assert (await console.post(f"/console/e/{eid}/resend", data={"csrf": token})).status_code == 403
    declared = await console.post(
        act, data={"action": "declare_interest", "text": "G82001", "reasons": "partner", "csrf": token}
    )
    assert declared.status_code == 303
    unnamed = await console.post(act, data={"action": "declare_interest", "text": "", "csrf": token})
    assert unnamed.status_code == 422 and ">Party (ODS code, or ICB or trust code)</a>: required" in unnamed.text
    unconfirmed = await console.post(act, data={"action": "withdraw", "reasons": "mine", "csrf": token})
    assert (
        unconfirmed.status_code == 422
        and 'id="confirm-error"' in unconfirmed.text
        and ">mine</textarea>" in unconfirmed.text
    )
    bare = await console.post(act, data={"action": "withdraw", "reasons": "", "csrf": token})  # both said at once
    assert bare.status_code == 422 and 'id="confirm-error"' in bare.text and 'id="reasons-error"' in bare.text
    withdraw = {"action": "withdraw", "reasons": "mine", "csrf": token, "confirm": "yes"}
    conflicted = await console.post(act, data=withdraw)
    assert conflicted.status_code == 403 and "declared an interest in G82001" in conflicted.text

    await sign_in(console, "ceo@lmc.example", "another long password")
    token = await csrf_of(console, f"/console/e/{eid}")
    missing = await console.post(act, data={"action": "dispute", "csrf": token})
    assert missing.status_code in (409, 422) and "reasons" in missing.text

    await sign_in(console, "ops@lmc.example", "correct horse battery")
    token = await csrf_of(console, f"/console/e/{eid}")
    before = len(inbox.for_case(eid))
    resent = await console.post(f"/console/e/{eid}/resend", data={"reason": "lost in a mailbox", "csrf": token})
    assert resent.status_code == 303
    again = (await inbox.wait_for(eid, before + 1))[-1]
    assert again["Message-ID"] != inbox.for_case(eid)[before - 1]["Message-ID"] and again["In-Reply-To"]
    empty = await console.post(stop, data={"reason": "", "csrf": token})  # every problem at once, in words
    assert empty.status_code == 422
    assert all(f"{words}</a>" in empty.text for words in ("How to stop it", "Confirmation", "Reason")), empty.text
    assert (await console.post(stop, data={"reason": "Raised in error", "csrf": token})).status_code == 422  # no choice
    unconfirmed = await console.post(stop, data={"reason": "Raised in error", "how": "terminate", "csrf": token})
    assert unconfirmed.status_code == 422 and 'value="terminate" checked' in unconfirmed.text  # as typed
    case_page = (await console.get(f"/console/e/{eid}")).text  # times as London's clocks read them, not ISO
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} to ", case_page) and not re.search(
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", case_page
    )
    stop_form = {"reason": "Raised in error", "how": "terminate", "csrf": token, "confirm": "yes"}
    stopped = await console.post(stop, data=stop_form)
    assert stopped.status_code == 303
    events = [r.event for r in AuditLog(make_engine(settings.database)).timeline(eid)]
    assert "refused:conflict_of_interest" in events and "resend_requested" in events and events[-1] == "terminated"
    assert AuditLog(make_engine(settings.database)).verify(eid).ok
    for _ in range(50):  # on the dashboard: stopped, and nobody's move (the column was left blank)
        listed = await console.get("/console", params={"search": eid, "status": "stopped"})
        if f">{eid}</a>" in listed.text:
            break
        await asyncio.sleep(0.2)
    row = listed.text[listed.text.index(f">{eid}</a>") :]
    row = row[: row.index("</tr>")]
    assert "<td>nobody</td>" in row and "<td>stopped</td>" in row.lower(), row


async def test_the_report_shows_claimed_agreed_and_paid_with_a_chart_and_csv(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    start = example_start(settings, payer_code="QKS", period_start="2011-04-01", period_end="2011-06-30")
    eid = await starting.start(dev_env.client, settings, CLAIM, start)
    await inbox.wait_for(eid, 1)
    await acting.respond(dev_env.client, eid, payer("accept"))
    await sign_in(console, "ceo@lmc.example", "another long password")
    params = {"payer": "QKS", "from": "2011-04-01", "to": "2011-06-30"}
    for _ in range(50):
        page = await console.get("/console/report", params=params)
        if "<td>1 escalation</td>" in page.text:
            break
        await asyncio.sleep(0.2)
    assert "<td>1 escalation</td>" in page.text and "<svg" in page.text and "onward referral" in page.text
    assert page.text.count("£2,837.00") >= 2  # claimed and agreed in total
    assert "Amount (£)" in page.text and "NHS Kent and Medway ICB" in page.text and "April 2011" in page.text
    backwards = await console.get("/console/report.csv", params={**params, "from": "2011-07-01"})
    assert backwards.status_code == 422 and "must not be before its start" in backwards.text  # not every year's
    assert "To: " in backwards.text and "to: " not in backwards.text  # the box as labelled
    csv_text = (await console.get("/console/report.csv", params=params)).text
    period, header, *rows = csv_text.strip().splitlines()
    assert "1 April 2011 to" in period and "30 June 2011" in period
    assert header.startswith("Breakdown,Group,Escalations,Items") and "Claimed (GBP)" in header
    assert sum(Decimal(r.split(",")[-2]) for r in rows if r.startswith("Category")) == Decimal("2837.00")
    await acting.respond(dev_env.client, eid, officer("withdraw", reasons="report test over"))


async def test_officers_start_escalations_from_forms_and_keep_what_they_typed(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    await sign_in(console, "ceo@lmc.example", "another long password")
    form_page = await console.get("/console/start/unfunded_claim")
    token = form_page.text.split('name="csrf" value="')[1].split('"')[0]
    form = {
        "csrf": token,
        "title": "Fit notes pushed to practices",
        "payer_code": "QKS",
        "provider": "Maidstone and Tunbridge Wells NHS Trust",
        "practices": "G82001, G82002",
        "period_start": "2026-07-01",
        "period_end": "2026-09-30",
        "summary": "Letters with patient data removed",
        "lines.0.category": "fit_note",
        "lines.0.count": "eleven",
        "lines.0.evidence_refs": "KLMC-1730",
    }
    bad = await console.post("/console/start/unfunded_claim", data=form)
    assert bad.status_code == 422 and "lines.0.count" in bad.text and 'id="lines-0-count-error"' in bad.text
    assert 'value="eleven"' in bad.text and "Fit notes pushed to practices" in bad.text and "KLMC-1730" in bad.text
    partly = {**form, "lines.0.count": "11", "lines.1.category": "fit_note", "lines.1.evidence_refs": "R9"}
    half = await console.post("/console/start/unfunded_claim", data=partly)  # a second line without its count
    assert half.status_code == 422 and 'id="lines-1-count-error"' in half.text and "or clear the line" in half.text
    assert 'value="R9"' in half.text or ">R9<" in half.text, "what was typed is kept"
    extra = await console.post(
        "/console/start/unfunded_claim", data={**form, "lines.0.count": "11", "lines.8.count": "1"}
    )
    assert extra.status_code == 422 and "start the claim from a file" in extra.text
    # rows left empty above a line: its refusal is put beside the row it was typed in, and counted as the person does
    third = {k: v for k, v in form.items() if not k.startswith("lines.0.")}
    third |= {"lines.2.category": "fit_note", "lines.2.count": "-3"}
    lower = await console.post("/console/start/unfunded_claim", data=third)
    assert lower.status_code == 422 and 'id="lines-2-count-error"' in lower.text and "Line 3: items" in lower.text
    assert "cannot be negative: give a whole number" in lower.text
    # a row left partly filled below a filled one: refused beside that row, not moved again
    gap = {**form, "lines.0.count": "11", "lines.2.category": "fit_note"}
    partial = await console.post("/console/start/unfunded_claim", data=gap)
    assert partial.status_code == 422 and 'id="lines-2-count-error"' in partial.text and "Line 3: items" in partial.text
    # a date box left blank reads as a missing field, not as a JSON null
    blank = await console.post(
        "/console/start/unfunded_claim", data={**form, "lines.0.count": "11", "period_start": ""}
    )
    assert blank.status_code == 422 and 'id="period_start-error">is required<' in blank.text
    assert ">Period from</a>: is required" in blank.text  # the summary names the box as its label does
    # work the tariff has no rate for takes a rate per item, typed in pounds on the form
    other = {**form, "lines.0.category": "other", "lines.0.count": "2", "lines.0.description": "Chasing letters"}
    unpriced = await console.post("/console/start/unfunded_claim", data=other)
    assert unpriced.status_code == 422 and 'id="lines-0-unit_rate_pence-error"' in unpriced.text
    assert "give a rate per item (on the form in pounds" in unpriced.text
    unread = await console.post("/console/start/unfunded_claim", data={**other, "lines.0.unit_rate": "12.345"})
    assert unread.status_code == 422 and "fractions of a penny" in unread.text
    assert 'id="lines-0-unit_rate_pence-error"' in unread.text
    started = await console.post("/console/start/unfunded_claim", data={**form, "lines.0.count": "11"})
    assert started.status_code == 303 and started.headers["location"].startswith("/console/e/UWC-")
    eid = started.headers["location"].rsplit("/", 1)[-1]
    [email] = await inbox.wait_for(eid, 1)
    assert "£132.00" in body_text(email)  # 11 fit notes at the £12.00 example rate
    # the same form filled in again (a new submission) while the first is open: asked about, not started
    await wait_until_listed(dev_env.client, eid)
    twice = await console.post("/console/start/unfunded_claim", data={**form, "lines.0.count": "12"})
    assert twice.status_code == 409 and f"{eid} is open with the same title and payer" in twice.text
    assert 'name="again"' in twice.text and 'value="12"' in twice.text, "what was typed is kept"
    typo = await console.post("/console/start/unfunded_claim", data={**form, "lines.0.count": "1two", "again": "yes"})
    assert typo.status_code == 422 and 'name="again" value="yes" checked' in typo.text, "the ticked box is kept"
    anyway = await console.post("/console/start/unfunded_claim", data={**form, "lines.0.count": "12", "again": "yes"})
    assert anyway.status_code == 303 and anyway.headers["location"].rsplit("/", 1)[-1] != eid
    second = anyway.headers["location"].rsplit("/", 1)[-1]

    dereg = {
        "csrf": token,
        "title": "Pathfinder deregistrations (form)",
        "icb_code": "QRV",
        "rate_year": "2024/25",
        "still_off_until": "2025-03-31",
        "practices": "E85011, Brentford Health Centre, Practice Manager, pm.e85011@nhs.example",
    }
    blank_first = {**dereg, "practices": "\n" + dereg["practices"] + "\n\nE85012, Hounslow, PM, not-an-email"}
    bad_line = await console.post("/console/start/deregistration", data=blank_first)
    assert bad_line.status_code == 422 and "Practice 4: contact email" in bad_line.text  # the fourth line typed
    started = await console.post("/console/start/deregistration", data=dereg)
    assert started.status_code == 303, started.text
    incident = started.headers["location"].rsplit("/", 1)[-1]
    await inbox.wait_for(incident, 2, family=True)

    await sign_in(console, "ops@lmc.example", "correct horse battery")
    assert (await console.post("/console/start/unfunded_claim", data=form)).status_code == 403
    for case in (eid, second, incident):
        action = "close_incident" if case == incident else "withdraw"
        await acting.respond(dev_env.client, case, officer(action, reasons="form test over"))


async def test_ops_see_activities_that_are_failing(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    broken = settings.model_copy(update={"smtp_port": free_port(), "task_queue": f"broken-{uuid.uuid4().hex[:6]}"})
    async with build_worker(dev_env.client, broken):
        eid = await starting.start(dev_env.client, broken, CLAIM, example_start(broken))
        handle = dev_env.client.get_workflow_handle(eid)
        for _ in range(100):
            described = await handle.describe()
            if any(p.attempt > 1 for p in described.raw_description.pending_activities):
                break
            await asyncio.sleep(0.2)
        await sign_in(console, "ops@lmc.example", "correct horse battery")
        for _ in range(50):
            board = await console.get("/console/failing")
            if eid in board.text and "send_email" in board.text:
                break
            await asyncio.sleep(0.2)
        assert "Failing and retrying" in board.text and "send_email" in board.text
        await sign_in(console, "ceo@lmc.example", "another long password")
        assert (await console.get("/console/failing")).status_code == 403
        await handle.terminate(reason="test over")


async def test_admins_manage_accounts_and_nobody_else_can(console: httpx.AsyncClient, settings: Settings) -> None:
    Users(make_engine(settings.database)).add("admin@lmc.example", "admin", "admin long password")
    await sign_in(console, "ops@lmc.example", "correct horse battery")
    assert (await console.get("/console/users")).status_code == 403
    await sign_in(console, "admin@lmc.example", "admin long password")
    page = await console.get("/console/users")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    short = await console.post(
        "/console/users", data={"csrf": token, "email": "new@lmc.example", "role": "officer", "password": "short"}
    )
    assert short.status_code == 422 and "password" in short.text
    assert (
        await console.post("/console/users", data={"email": "x@lmc.example", "role": "ops", "password": "p" * 12})
    ).status_code == 403
    made = await console.post(
        "/console/users",
        data={"csrf": token, "email": "new@lmc.example", "role": "officer", "password": "new officer password"},
    )
    assert made.status_code == 200 and "new@lmc.example can sign in as officer" in made.text
    unconfirmed = await console.post("/console/users", data={"csrf": token, "disable": "new@lmc.example"})
    assert unconfirmed.status_code == 422 and "confirm disabling" in unconfirmed.text
    await console.post("/console/users", data={"csrf": token, "disable": "new@lmc.example", "confirm": "yes"})
    assert (await sign_in(console, "new@lmc.example", "new officer password")).status_code == 401


async def test_ops_settle_held_emails_whether_the_escalation_runs_or_has_finished(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    cut_off = CutOffAfterData()
    audit, ledger = AuditLog(make_engine(settings.database)), SentMailLedger(make_engine(settings.database))
    with mail_server(cut_off, settings) as flaky:
        flaky = flaky.model_copy(update={"task_queue": f"flaky-{uuid.uuid4().hex[:6]}"})
        async with build_worker(dev_env.client, flaky):
            eid = await starting.start(dev_env.client, flaky, CLAIM, example_start(flaky))
            for _ in range(100):
                held = [h for h in ledger.held() if h.escalation_id == eid]
                if held and "email_held" in [r.event for r in audit.timeline(eid)]:
                    break
                await asyncio.sleep(0.1)
            [first] = held
            await sign_in(console, "ceo@lmc.example", "another long password")
            token = await csrf_of(console, f"/console/e/{eid}")
            assert "Ops staff decide." in (await console.get(f"/console/e/{eid}")).text
            decide = f"/console/e/{eid}/held"
            form = {"message_id": first.message_id, "decision": "send", "csrf": token}
            assert (await console.post(decide, data=form)).status_code == 403

            await sign_in(console, "ops@lmc.example", "correct horse battery")
            assert "Emails held for a decision" in (await console.get("/console")).text
            token = await csrf_of(console, f"/console/e/{eid}")
            refused = await console.post(decide, data={**form, "decision": "maybe", "csrf": token})
            assert refused.status_code == 422 and "decision" in refused.text
            arrived = {**form, "decision": "arrived", "csrf": token}
            queued = await console.post(decide, data=arrived, follow_redirects=True)
            assert "Decision passed to the escalation" in queued.text  # running: it carries the decision out
            for _ in range(100):
                if "held_email_confirmed_arrived" in [r.event for r in audit.timeline(eid)]:
                    break
                await asyncio.sleep(0.1)

            await acting.respond(dev_env.client, eid, officer("withdraw", reasons="raised in error"))
            await dev_env.client.get_workflow_handle(eid).result()
            [notice] = [h for h in ledger.held() if h.escalation_id == eid]  # the withdrawal, cut off too
            token = await csrf_of(console, f"/console/e/{eid}")
            form = {"message_id": notice.message_id, "decision": "send", "csrf": token}
            sent = await console.post(decide, data=form, follow_redirects=True)
            assert "Sent, and written to the audit log" in sent.text  # finished: settled by the console itself
            again = await console.post(decide, data=form, follow_redirects=True)
            assert "That email is not held" in again.text and "nothing was changed" in again.text
    [released] = await inbox.wait_for(eid, 1)
    assert released["Message-ID"] == notice.message_id and len(cut_off.received) == 2
    events = [r.event for r in audit.timeline(eid)]
    assert events.count("email_held") == 2 and "held_email_confirmed_arrived" in events
    assert events[-1] == "held_email_sent" and audit.verify(eid).ok
    await replay_and_maybe_record(dev_env.client, eid, "unfunded_claim_email_held")


def hidden_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


async def test_a_form_sent_after_its_session_ended_is_kept_through_signing_in_again(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    """Idle past the session's half hour while typing a claim: nothing is recorded, nothing typed is lost."""
    await sign_in(console, "ceo@lmc.example", "another long password")
    token = csrf_in(await console.get("/console/start/unfunded_claim"))
    title = f"Fit notes typed slowly {uuid.uuid4().hex[:6]}"
    form = {
        "csrf": token,
        "title": title,
        "payer_code": "QKS",
        "provider": "Maidstone and Tunbridge Wells NHS Trust",
        "practices": "G82001",
        "period_start": "2026-07-01",
        "period_end": "2026-09-30",
        "lines.0.category": "fit_note",
        "lines.0.count": "7",
    }
    assert (await console.post("/logout", data={"csrf": token})).status_code == 303  # as the idle timeout ends it
    ended = await console.post("/console/start/unfunded_claim", data=form)
    assert ended.status_code == 401 and "nothing was recorded" in ended.text and 'action="/login"' in ended.text
    carried = hidden_fields(ended.text)
    assert carried["next"] == "/console/start/unfunded_claim" and carried["carry:title"] == title
    assert "carry:csrf" not in carried
    wrong = await console.post("/login", data={**carried, "email": "ceo@lmc.example", "password": "not it at all"})
    assert wrong.status_code == 401 and hidden_fields(wrong.text)["carry:title"] == title  # still kept
    again = await console.post(
        "/login", data={**hidden_fields(wrong.text), "email": "ceo@lmc.example", "password": "another long password"}
    )
    assert again.status_code == 200 and "check what you typed" in again.text and title in again.text
    assert 'action="/console/start/unfunded_claim"' in again.text
    typed = dict(re.findall(r'<textarea id="again-\d+" name="([^"]*)" rows="2">([^<]*)</textarea>', again.text))
    sent = await console.post("/console/start/unfunded_claim", data={**hidden_fields(again.text), **typed})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/console/e/UWC-"), sent.text[:500]
    eid = sent.headers["location"].rsplit("/", 1)[-1]
    [email] = await inbox.wait_for(eid, 1)
    assert title in email["Subject"] or title in body_text(email)
    await acting.respond(dev_env.client, eid, officer("withdraw", reasons="session test over"))


async def test_officer_forms_are_offered_only_to_the_escalations_lmc_officers(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings
) -> None:
    """An account of an address the LMC's configuration does not name as an officer (an admin, a new colleague)
    is told why the actions are not open to it, rather than offered forms the escalation refuses once filled in."""
    Users(make_engine(settings.database)).add("admin.only@lmc.example", "admin", "an admin's long password")
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await sign_in(console, "admin.only@lmc.example", "an admin's long password")
    page = (await console.get(f"/console/e/{eid}")).text
    assert "Your actions" not in page and "admin.only@lmc.example is not one of" in page, page
    await sign_in(console, "ceo@lmc.example", "another long password")
    page = (await console.get(f"/console/e/{eid}")).text
    assert "Your actions" in page and "is not one of" not in page
    await dev_env.client.get_workflow_handle(eid).terminate(reason="test over")
