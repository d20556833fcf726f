"""The pages behind email links, over HTTP against the real dev server, SMTP and audit."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.email import EmailActivities, EmailRequest
from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from domain.practice_return import PracticeCase
from domain.responses import MOST_GROUPS, DeregisteredGroup, ResponseInput
from links.signing import LinkGrant, LinkKeys, sign_link
from mail.sink import start_sink
from persistence.database import make_engine
from persistence.sent_mail import SentMailLedger
from persistence.users import Users
from service import acting, reading, starting
from settings import ROOT, Settings
from tests.conftest import Inbox, body_text, free_port
from tests.helpers import CLAIM, DEREGISTRATION, ICB_L1, example_start, officer, sign_in
from web.app import create_app


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def link_path(message_text: str) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/r/[A-Za-z0-9_.-]+)", message_text)
    assert match, message_text
    return match.group(1)


async def update_events(client: Client, escalation_id: str) -> int:
    history = await client.get_workflow_handle(escalation_id).fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def test_link_get_changes_nothing_and_post_acts(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    client = dev_env.client
    eid = await starting.start(client, settings, CLAIM, example_start(settings))
    [email] = await inbox.wait_for(eid, 1)
    path = link_path(body_text(email, "plain"))

    for _ in range(3):  # a mail scanner, then the person, then a refresh
        page = await web.get(path)
        assert page.status_code == 200 and "Acknowledge receipt" in page.text
    assert (await web.head(path)).status_code == 200
    assert await update_events(client, eid) == 0
    assert (await reading.summary(client, eid)).status == "submitted"

    bad = await web.post(path, data={"action": "accept_part", "amount": "12.345", "reasons": "Part only"})
    assert bad.status_code == 422 and "Amount you offer (£): an amount cannot have fractions of a penny" in bad.text
    assert "Part only" in bad.text  # what was typed is kept
    too_much = await web.post(path, data={"action": "accept_part", "amount": "99999", "reasons": "Generous"})
    assert too_much.status_code == 422 and "must be less than" in too_much.text  # beside the amount
    nhs = await web.post(path, data={"action": "reject", "reasons": "Patient 943 476 5919 was seen"})
    assert nhs.status_code == 422 and "NHS number" in nhs.text
    born = await web.post(path, data={"action": "reject", "reasons": "Seen: John Smith, DOB 01/02/1960"})
    assert born.status_code == 422 and "mentions a date of birth" in born.text and "John Smith" in born.text  # kept
    assert await update_events(client, eid) == 0

    done = await web.post(path, data={"action": "acknowledge"})
    assert done.status_code == 200 and "Recorded." in done.text and "acknowledged" in done.text
    again = await web.post(path, data={"action": "acknowledge"})
    assert again.status_code == 409 and "not open" in again.text
    assert await update_events(client, eid) == 1

    ok = await web.post(path, data={"action": "accept", "on_date": "2027-01-29"})
    assert ok.status_code == 200 and "29 January 2027" in ok.text
    view = await reading.summary(client, eid)
    assert view.status == "payment_expected"
    await acting.respond(client, eid, officer("withdraw", reasons="test over"))
    closed = await web.post(path, data={"action": "accept"})
    assert (
        closed.status_code == 409 and "is closed (withdrawn by the LMC)" in closed.text and "<form" not in closed.text
    )


@pytest.mark.parametrize(
    "tamper",
    ["forged", "altered", "expired", "garbage"],
)
async def test_bad_links_are_refused(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, tamper: str
) -> None:
    grant = LinkGrant("UWC-2026-NOSUCH", ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
    token = sign_link(settings.link_keys, grant)
    if tamper == "forged":
        token = sign_link(LinkKeys.single(b"not-our-key"), grant)
    elif tamper == "altered":
        body, mac = token.split(".")
        token = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    elif tamper == "expired":
        token = sign_link(
            settings.link_keys, LinkGrant(grant.escalation_id, ICB_L1, Role.PAYER, datetime(2020, 1, 1, tzinfo=UTC))
        )
    else:
        token = "not-a-token"
    for method in ("GET", "POST"):
        page = await web.request(method, f"/r/{token}", data={"action": "accept"} if method == "POST" else None)
        assert page.status_code == 403, (tamper, method, page.text)
        assert "cannot be used" in page.text
    if tamper == "expired":
        assert "expired" in page.text


async def test_valid_link_to_unknown_escalation_is_not_found(web: httpx.AsyncClient, settings: Settings) -> None:
    grant = LinkGrant("UWC-2026-NOSUCH", ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
    page = await web.get(f"/r/{sign_link(settings.link_keys, grant)}")
    assert page.status_code == 404 and "whole link from your email" in page.text  # words for a link holder


async def test_a_practice_sends_its_return_through_its_link(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    data = json.loads((ROOT / "examples" / "deregistration_nwl_pathfinder.json").read_text())
    data["practices"] = data["practices"][:2]
    eid = f"PDR-WEB-{uuid.uuid4().hex[:6].upper()}"
    start = starting.prepare(DEREGISTRATION, settings.escalation_config(), data, eid)
    await starting.start(dev_env.client, settings, DEREGISTRATION, start)
    ods = data["practices"][0]["ods"]
    [request] = await inbox.wait_for(f"{eid}-{ods}", 1)
    path = link_path(body_text(request))
    page = await web.get(path)
    assert page.status_code == 200 and "Days off the list" in page.text and "Send (or correct) your return" in page.text

    missing_date = {"action": "submit_return", "groups.0.patients": "4", "groups.0.still_off": "on"}
    bad = await web.post(path, data=missing_date)
    assert bad.status_code == 422 and "off_since" in bad.text and 'value="4"' in bad.text
    good = {
        "action": "submit_return",
        "groups.0.patients": "12",
        "groups.0.days_off": "30",
        "groups.1.patients": "3",
        "groups.1.still_off": "on",
        "groups.1.off_since": "2025-02-01",
    }
    # A field the form does not have, filled in (crafted, or a page of another version): refused by name, nothing
    # recorded, rather than dropped unread with the rest recorded as if it had been the whole return.
    for extra, named in (({"notes": "Patient seen twice"}, "Notes"), ({"groups.0.colour": "red"}, "colour")):
        crafted = await web.post(path, data={**good, **extra})
        assert crafted.status_code == 422 and "this form has no such field" in crafted.text, crafted.text[-3000:]
        assert named in crafted.text and "Patient seen twice" not in crafted.text  # named; not shown back
    assert (await reading.summary(dev_env.client, f"{eid}-{ods}")).status == "awaiting_return"
    done = await web.post(path, data=good)
    assert done.status_code == 200 and "Return recorded" in done.text
    view = await reading.summary(dev_env.client, f"{eid}-{ods}")
    groups = view.case_as(PracticeCase).groups
    assert groups is not None and groups[0] == DeregisteredGroup(patients=12, days_off=30)
    closed = await acting.respond(dev_env.client, eid, officer("close_incident", reasons="web test over"))
    assert closed.status == "closed"


async def test_development_mail_browser_shows_sent_mail_with_working_links(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    sink = start_sink(tmp_path / "mail", port=port)
    local = settings.model_copy(update={"smtp_port": port, "dev_mail_browser": True, "var_dir": tmp_path})
    sender = EmailActivities(local, SentMailLedger(make_engine(local.database)))
    effect = EmailEffect(
        purpose="submitted",
        to=Contact(name="Ian Ayres", title="Contracts", email=ICB_L1),
        to_role=Role.PAYER,
        subject="[UWC-2026-DEVMAIL] Claim",
        headline="Claim",
        actions=["acknowledge"],
    )
    request = EmailRequest(escalation_id="UWC-2026-DEVMAIL", step=1, sent_at=datetime.now(UTC), effect=effect)
    app = create_app(local, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    try:
        await ActivityEnvironment().run(sender.send_email, request)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            assert (await http.get("/dev/mail")).headers.get("location") == "/login"  # signed out
            users = Users(make_engine(local.database))
            users.add("dev-officer@lmc.example", "officer", "dev mail officer password")
            users.add("dev-ops@lmc.example", "ops", "dev mail ops password")
            assert (await sign_in(http, "dev-officer@lmc.example", "dev mail officer password")).status_code == 303
            assert (await http.get("/dev/mail")).status_code == 403, "officers do not read other people's links"
            http.cookies.clear()
            assert (await sign_in(http, "dev-ops@lmc.example", "dev mail ops password")).status_code == 303
            listing = await http.get("/dev/mail")
            assert listing.status_code == 200 and "[UWC-2026-DEVMAIL] Claim" in listing.text
            found = re.search(r'href="/dev/mail/([^"]+)"', listing.text)
            assert found is not None
            shown = await http.get(f"/dev/mail/{found.group(1)}")
            assert shown.status_code == 200 and '<a href="http://127.0.0.1:8000/r/' in shown.text
            assert (await http.get("/dev/mail/..%2Fsecret.eml")).status_code == 404
    finally:
        sink.stop()


async def test_a_return_of_many_groups_sent_another_way_is_shown_whole_for_correcting(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    """A return may give as many groups as its page offers rows (`MOST_GROUPS`): one sent through `service.acting.respond`
    with more than the page once offered (twenty) is filled in whole on the page, so sending the correction, which
    replaces the return, loses none of it."""
    data = json.loads((ROOT / "examples" / "deregistration_nwl_pathfinder.json").read_text())
    data["practices"] = data["practices"][:1]
    eid = f"PDR-WEB-{uuid.uuid4().hex[:6].upper()}"
    start = starting.prepare(DEREGISTRATION, settings.escalation_config(), data, eid)
    await starting.start(dev_env.client, settings, DEREGISTRATION, start)
    practice = data["practices"][0]
    [request] = await inbox.wait_for(f"{eid}-{practice['ods']}", 1)
    path = link_path(body_text(request))
    sent = [DeregisteredGroup(patients=n + 1, days_off=10) for n in range(MOST_GROUPS)]
    returned = ResponseInput(
        action="submit_return", actor_email=practice["contact_email"], actor_role=Role.PRACTICE, groups=sent
    )
    assert (await acting.respond(dev_env.client, f"{eid}-{practice['ods']}", returned)).status != "refused"

    page = await web.get(path)
    assert page.status_code == 200
    shown = dict(re.findall(r'name="(groups\.\d+\.(?:patients|days_off))"[^>]*value="(\d*)"', page.text))
    assert [shown[f"groups.{n}.patients"] for n in range(MOST_GROUPS)] == [str(n + 1) for n in range(MOST_GROUPS)]
    submission = re.search(r'name="submission" value="([^"]+)"', page.text)
    assert submission is not None
    corrected = {"action": "submit_return", "submission": submission.group(1), **shown, "groups.0.patients": "100"}
    done = await web.post(path, data=corrected)
    assert done.status_code == 200 and "Correction recorded" in done.text
    view = await reading.summary(dev_env.client, f"{eid}-{practice['ods']}")
    groups = view.case_as(PracticeCase).groups
    assert groups is not None and len(groups) == MOST_GROUPS and groups[0].patients == 100 and groups[-1].patients == 50
    closed = await acting.respond(dev_env.client, eid, officer("close_incident", reasons="web test over"))
    assert closed.status == "closed"
