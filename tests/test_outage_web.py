"""The web app when a part is down (issue #20): its own liveness and readiness naming the part that does
not answer; every console form answered 503 with Retry-After and the form again as typed, under the
same one-time submission id, when Temporal cannot answer or is slower than the request's budget; and
a console form sent twice (start, resend, change a contact, act) carried out once."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from links.signing import LinkGrant, sign_link
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.users import Users
from service import acting, reading, starting
from service.refusals import Refused, Why
from settings import ROOT, Settings
from temporal_client import connect
from tests.conftest import POSTGRES_ADMIN_URL, Inbox, free_port
from tests.helpers import CLAIM, ICB_L1, OFFICER, csrf_in, example_start, payer, sign_in
from web import temporal_budget
from web.app import create_app
from web.temporal_budget import bounded
from workflows.escalation_workflow import CaseView

OPS = "ops@lmc.example"
SUBMISSION = re.compile(r'name="submission" value="([A-Za-z0-9_-]+)"')


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    users = Users(make_engine(settings.database))
    users.add(OFFICER, "officer", "another long password")
    users.add(OPS, "ops", "correct horse battery")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def app_of(http: httpx.AsyncClient) -> Starlette:
    return http._transport.app  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A Temporal that takes connections and never answers: slower than any budget."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


async def engine_down(http: httpx.AsyncClient, settings: Settings, address: str) -> None:
    """The app's Temporal becomes one at `address` (nothing there, or nothing answering)."""
    app_of(http).state.client = bounded(
        await connect(settings.model_copy(update={"temporal_address": address}), lazy=True)
    )


async def audit_count(settings: Settings, escalation_id: str, event: str, expected: int) -> None:
    log = AuditLog(make_engine(settings.database))
    for _ in range(50):
        if [r.event for r in log.timeline(escalation_id)].count(event) >= expected:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    found = [r.event for r in log.timeline(escalation_id)]
    assert found.count(event) == expected, found


def form_in(page: str, action_path: str) -> str:
    return page.split(f'action="{action_path}"', 1)[1].split("</form>", 1)[0]


async def test_the_web_app_is_alive_and_says_which_part_is_not_ready(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await web.get("/livez")).json() == {"alive": True}
    for _ in range(5):  # a dev server busy with earlier tests' workflows may take past the 3 s a check allows once
        ready = await web.get("/readyz")
        if ready.status_code == 200:
            break
    assert ready.status_code == 200, ready.text
    assert ready.json()["parts"] == {"database": "ok", "mail": "ok", "temporal": "ok"}

    app = create_app(settings.model_copy(update={"smtp_port": free_port()}), app_of(web).state.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        no_mail = await http.get("/readyz")
    assert no_mail.status_code == 503 and no_mail.headers["retry-after"] == "60"
    assert no_mail.json()["message"].startswith("Not ready: the mail server unreachable")

    await engine_down(web, settings, f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    no_temporal = await web.get("/readyz")
    assert no_temporal.status_code == 503 and "Temporal " in no_temporal.json()["message"], no_temporal.text
    assert no_temporal.json()["parts"]["database"] == "ok" and time.monotonic() - started < 5
    assert (await web.get("/livez")).status_code == 200  # alive: not a reason to restart it


async def test_a_console_action_while_temporal_is_down_comes_back_typed_and_is_recorded_once_later(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    await sign_in(web, OFFICER, "another long password")
    page = await web.get(f"/console/e/{eid}")
    declare = page.text.split('name="action" value="declare_interest"', 1)[1].split("</form>", 1)[0]
    submission = SUBMISSION.search(declare).group(1)  # type: ignore[union-attr]
    typed = {"action": "declare_interest", "text": "G99999", "reasons": "a friend <works> there & more"}
    form = {**typed, "csrf": csrf_in(page), "submission": submission}

    await engine_down(web, settings, f"127.0.0.1:{free_port()}")
    down = await web.post(f"/console/e/{eid}/act", data=form)
    assert down.status_code == 503 and down.headers["retry-after"] == "60", down.text
    assert "Please try again in a minute" in down.text and "Nothing you typed is lost" in down.text
    assert ">a friend &lt;works&gt; there &amp; more</textarea>" in down.text
    assert f'name="submission" value="{submission}"' in down.text  # the same id: sending again is safe
    again = {m[0]: m[1] for m in re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', down.text)}
    again.update({n: v for n, v in re.findall(r'name="([a-z_]+)" rows="2">([^<]*)</textarea>', down.text)})
    assert again["csrf"] == form["csrf"] and again["text"] == "G99999"

    app_of(web).state.client = bounded(dev_env.client)  # back
    for _ in range(2):  # sent again from that page, twice (a double click): recorded once
        sent = await web.post(f"/console/e/{eid}/act", data={**again, "reasons": typed["reasons"]})
        assert sent.status_code == 303, sent.text
    await audit_count(settings, eid, "interest_declared", 1)


async def test_a_temporal_that_does_not_answer_is_cut_off_at_the_budget(
    dev_env: WorkflowEnvironment,
    web: httpx.AsyncClient,
    settings: Settings,
    blackhole: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(temporal_budget, "REQUEST_BUDGET", 2.0)
    await sign_in(web, OPS, "correct horse battery")
    csrf = csrf_in(await web.get("/console/start/unfunded_claim"))
    await engine_down(web, settings, blackhole)
    for method, path, data in (
        ("GET", "/console", None),
        ("GET", "/console/e/UWC-2026-ABCDEF", None),
        ("POST", "/console/e/UWC-2026-ABCDEF/resend", {"csrf": csrf, "reason": "lost", "submission": "s" * 22}),
        ("POST", "/console/e/UWC-2026-ABCDEF/terminate", {"csrf": csrf, "reason": "gone", "how": "cancel"}),
    ):
        started = time.monotonic()
        answer = await web.request(method, path, data=data)
        took = time.monotonic() - started
        assert answer.status_code == 503 and answer.headers["retry-after"] == "60", (path, answer.text[:300])
        assert took < 2.0 + 3, (path, took)
        if method == "POST":
            assert "Send it again" in answer.text and f">{data['reason']}</textarea>" in answer.text  # type: ignore[index]


async def test_a_start_form_sent_twice_starts_one_escalation_and_comes_back_typed_when_temporal_is_down(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    await sign_in(web, OFFICER, "another long password")
    page = await web.get("/console/start/unfunded_claim")
    submission = SUBMISSION.search(page.text).group(1)  # type: ignore[union-attr]
    form = {
        "csrf": csrf_in(page),
        "submission": submission,
        "title": "Onward referrals sent back to practices",
        "payer_code": "QKS",
        "provider": "Maidstone and Tunbridge Wells NHS Trust",
        "practices": "G82001",
        "period_start": "2026-07-01",
        "period_end": "2026-09-30",
        "summary": "Letters with patient data removed",
        "lines.0.category": "fit_note",
        "lines.0.count": "11",
        "lines.0.evidence_refs": "KLMC-1730",
    }
    filled = await web.post("/console/start/unfunded_claim", data=form)
    assert filled.status_code == 303, filled.text[:2000]
    again = await web.post("/console/start/unfunded_claim", data=form)
    assert again.status_code == 303 and again.headers["location"] == filled.headers["location"]
    eid = filled.headers["location"].rsplit("/", 1)[1]
    await inbox.wait_for(eid, 1)
    await asyncio.sleep(1)
    assert len(inbox.for_case(eid)) == 1  # one escalation, one first email

    await engine_down(web, settings, f"127.0.0.1:{free_port()}")
    fresh = {**form, "submission": "another-start-form-1"}
    down = await web.post("/console/start/unfunded_claim", data=fresh)
    assert down.status_code == 503 and down.headers["retry-after"] == "60", down.text[:500]
    assert "Not started." in down.text and "Nothing you typed is lost" in down.text
    assert 'value="Onward referrals sent back to practices"' in down.text
    assert 'name="submission" value="another-start-form-1"' in down.text
    app_of(web).state.client = bounded(dev_env.client)
    await dev_env.client.get_workflow_handle(eid).terminate(reason="test over")


async def test_ops_resend_and_a_contact_change_sent_twice_are_carried_out_once(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    await sign_in(web, OPS, "correct horse battery")
    page = await web.get(f"/console/e/{eid}")
    resend = form_in(page.text, f"/console/e/{eid}/resend")
    form = {"csrf": csrf_in(page), "reason": "lost in a mailbox", "submission": SUBMISSION.search(resend).group(1)}  # type: ignore[union-attr]
    for _ in range(2):
        assert (await web.post(f"/console/e/{eid}/resend", data=form)).status_code == 303
    await audit_count(settings, eid, "resend_requested", 1)
    await inbox.wait_for(eid, 2)

    await sign_in(web, OFFICER, "another long password")
    page = await web.get(f"/console/e/{eid}")
    replace = form_in(page.text, f"/console/e/{eid}/replace-contact")
    change = {
        "csrf": csrf_in(page),
        "submission": SUBMISSION.search(replace).group(1),  # type: ignore[union-attr]
        "recipient": "primarycare.contracts@kmicb.example",
        "new_name": "Sam Patel",
        "new_email": "sam.patel@kmicb.example",
        "reason": "left the ICB",
    }
    for _ in range(2):
        answer = await web.post(f"/console/e/{eid}/replace-contact", data=change)
        assert answer.status_code == 303, answer.text
    await asyncio.sleep(2)
    to_new = [m for m in inbox.for_case(eid) if "sam.patel@kmicb.example" in str(m["To"])]
    assert len(to_new) == 1  # the latest request went to the new contact once

    await sign_in(web, OPS, "correct horse battery")
    page = await web.get(f"/console/e/{eid}")
    stop = form_in(page.text, f"/console/e/{eid}/terminate")
    submission = SUBMISSION.search(stop).group(1)  # type: ignore[union-attr]
    ended = {
        "csrf": csrf_in(page),
        "submission": submission,
        "reason": "duplicate of another",
        "how": "terminate",
        "confirm": "yes",
    }
    for _ in range(2):  # the second is answered as the first, not "already finished"
        answer = await web.post(f"/console/e/{eid}/terminate", data=ended)
        assert answer.status_code == 303, answer.text[:500]
    await audit_count(settings, eid, "terminated", 1)


def test_every_console_form_that_reaches_temporal_carries_a_submission_id() -> None:
    template = (ROOT / "web" / "templates" / "escalation.html").read_text()
    for path in ("/act", "/replace-contact", "/resend", "/terminate"):
        assert 'name="submission"' in template.split(f'{path}"', 1)[1].split("</form>", 1)[0], path
    assert 'name="submission"' in (ROOT / "web" / "templates" / "start.html").read_text()


async def test_a_console_form_while_the_database_is_gone_comes_back_typed_with_503(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The database goes away under a running web app (its PostgreSQL database dropped): the readiness
    probe names it, a console page is 503, and a form sent meanwhile comes back as typed."""
    name = f"lmc_test_gone_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    local = settings.model_copy(update={"database_url": f"postgresql://127.0.0.1:5432/{name}"})
    Users(make_engine(local.database)).add(OFFICER, "officer", "another long password")
    app = create_app(local, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, OFFICER, "another long password")
        csrf = csrf_in(await http.get("/console/start/unfunded_claim"))
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and "the database unreachable" in ready.json()["message"], ready.text
        assert (await http.get("/console")).status_code == 503
        form = {"csrf": csrf, "recipient": "someone@kmicb.example", "reason": "left <the> ICB"}
        answer = await http.post("/console/e/UWC-2026-ABCDEF/withdraw-links", data=form)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "60", answer.text[:500]
        assert "database did not answer" in answer.text and ">left &lt;the&gt; ICB</textarea>" in answer.text


async def test_a_response_recorded_when_the_engine_then_stops_answering_says_recorded(
    dev_env: WorkflowEnvironment,
    web: httpx.AsyncClient,
    settings: Settings,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The update was answered, but reading the escalation again was not (the budget spent, a worker gone):
    the page says what was recorded, never "not recorded", and offers no form that is not open now. Since
    issue #16 the update answers with the case, so only a submission recorded by the older `respond` update
    (answered again with its first outcome alone) reads it again; a new one reads nothing."""
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    grant = LinkGrant(eid, ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
    path = f"/r/{sign_link(settings.link_keys, grant)}"
    real, reads = reading.summary, []

    async def answers_once(client: Client, escalation_id: str) -> CaseView:
        reads.append(escalation_id)
        if len(reads) > 1:
            raise Refused(Why.UNAVAILABLE, "The escalation engine did not answer in time; nothing was recorded.")
        return await real(client, escalation_id)

    await acting.respond(dev_env.client, eid, payer("acknowledge"), "acknowledged-then-gone")  # the older update
    monkeypatch.setattr(reading, "summary", answers_once)
    reads.append("the page, opened before")  # this read answered; the next does not
    answer = await web.post(path, data={"action": "acknowledge", "submission": "acknowledged-then-gone"})
    assert answer.status_code == 200 and "Recorded." in answer.text, answer.text[:800]
    assert "not recorded" not in answer.text and 'name="action"' not in answer.text
    await audit_count(settings, eid, "response:acknowledge", 1)

    reads.clear()  # a new submission: answered with the case as it now stands, no read at all
    answer = await web.post(path, data={"action": "reject", "reasons": "Not ours", "submission": "rejected-no-read"})
    assert answer.status_code == 200 and "Recorded." in answer.text and reads == [], answer.text[:800]
    await audit_count(settings, eid, "response:reject", 1)
    await dev_env.client.get_workflow_handle(eid).terminate(reason="test over")
