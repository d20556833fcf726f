"""The web app's security, as an attacker and an administrator would try it: headers on every kind of
page, cross-site posts refused, sessions that disabling or a role change ends at the next request,
links an officer withdraws, and link keys rotated without breaking links already sent."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from links.signing import LinkGrant, LinkKeys, sign_link, verify_link
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.security_log import SecurityLog
from persistence.users import Users
from service import reading, starting
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import CLAIM, ICB_L1, ICB_L2, csrf_of, example_start, sign_in
from web.app import create_app

PASSWORD = "web security test password"


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    users = Users(make_engine(settings.database))
    for email, role in (("sec-officer@lmc.example", "officer"), ("sec-ops@lmc.example", "ops")):
        users.add(email, role, PASSWORD)
    local = settings.model_copy(update={"dev_mail_browser": True})
    app = create_app(local, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def link(settings: Settings, eid: str, recipient: str, days: int = 30) -> str:
    grant = LinkGrant(eid, recipient, Role.PAYER, datetime.now(UTC) + timedelta(days=days))
    return f"/r/{sign_link(settings.link_keys, grant)}"


async def test_every_kind_of_page_carries_the_security_headers(
    web: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    pages = [link(settings, eid, ICB_L1), "/login", "/", "/healthz", "/r/not-a-token", "/console/e/UWC-NONE-XXXXXX"]
    answers = [await web.get(path) for path in pages]
    await sign_in(web, "sec-ops@lmc.example", PASSWORD)
    for path in ("/console", f"/console/e/{eid}", "/console/report", "/dev/mail", "/console/start/nowhere"):
        answers.append(await web.get(path))
    answers.append(await web.post("/codec/decode", content=b"{}", headers={"x-namespace": "default"}))
    for answer in answers:
        headers = answer.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], answer.url
        assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers, "HSTS only when served over https"


async def test_cookies_are_host_only_secure_and_hsts_is_sent_under_https(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    Users(make_engine(settings.database)).add("sec-https@lmc.example", "ops", PASSWORD)
    app = create_app(settings.model_copy(update={"base_url": "https://lmc.example"}), dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="https://t") as http:
        page = await http.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert "__Host-lmc_login=" in page.headers["set-cookie"] and "Secure" in page.headers["set-cookie"]
        signed = await sign_in(http, "sec-https@lmc.example", PASSWORD)
        cookie = [c for c in signed.headers.get_list("set-cookie") if c.startswith("__Host-lmc_session=")][0]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


async def test_a_form_posted_from_another_site_is_refused(web: httpx.AsyncClient) -> None:
    token = await csrf_of(web, "/login")
    form = {"email": "sec-ops@lmc.example", "password": PASSWORD, "csrf": token}
    cross = await web.post(
        "/login", data=form, headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    )
    assert cross.status_code == 403 and "another website" in cross.text
    assert "send the form from there" in cross.text and "right role" not in cross.text  # not a question of role
    old = await web.post("/login", data=form, headers={"origin": "https://evil.example"})  # a browser without Sec-Fetch
    assert old.status_code == 403
    same = await web.post("/login", data=form, headers={"sec-fetch-site": "same-origin", "origin": "null"})
    assert same.status_code == 303, "Chromium sends Origin: null from a no-referrer page"


async def test_a_planted_sign_in_token_does_not_work(web: httpx.AsyncClient) -> None:
    token = await csrf_of(web, "/login")
    web.cookies.set("lmc_login", "planted-by-another-site-0123456789")
    refused = await web.post("/login", data={"email": "sec-ops@lmc.example", "password": PASSWORD, "csrf": token})
    assert refused.status_code == 403


async def test_disabling_an_account_or_taking_its_role_ends_its_access_at_the_next_request(
    web: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    users = Users(make_engine(settings.database))
    users.add("sec-leaver@lmc.example", "ops", PASSWORD)
    await sign_in(web, "sec-leaver@lmc.example", PASSWORD)
    assert (await web.get("/dev/mail")).status_code == 200
    users.add("sec-leaver@lmc.example", "officer", PASSWORD)  # another admin, another replica: ops role gone
    assert (await web.get("/dev/mail")).status_code == 403
    users.set_disabled("sec-leaver@lmc.example", True)
    bounced = await web.get("/console")
    assert bounced.status_code == 303 and bounced.headers["location"] == "/login"


async def test_the_sign_in_form_locks_an_account_after_five_failures_and_says_until_when(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    Users(make_engine(settings.database)).add("sec-guessed@lmc.example", "officer", PASSWORD)
    for _ in range(5):
        assert (await sign_in(web, "sec-guessed@lmc.example", "not the password at all")).status_code == 401
    locked = await sign_in(web, "sec-guessed@lmc.example", "not the password at all")
    assert locked.status_code == 429 and "Try again after" in locked.text
    still = await sign_in(web, "sec-guessed@lmc.example", PASSWORD)
    assert still.status_code == 429, "the right password waits for the lock too"


async def test_an_officer_withdraws_a_contacts_links_and_the_next_contact_still_acts(
    web: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    leaver, successor = link(settings, eid, ICB_L1), link(settings, eid, ICB_L2)
    assert (await web.get(leaver)).status_code == 200
    await sign_in(web, "sec-officer@lmc.example", PASSWORD)
    token = await csrf_of(web, f"/console/e/{eid}")
    form = {
        "csrf": token,
        "recipient": ICB_L1,
        "reason": "Left the ICB in October",
        "contact_instead": "Director of Primary Care",
        "confirm": "yes",
    }
    mistyped = await web.post(f"/console/e/{eid}/withdraw-links", data={**form, "recipient": "nobody@kmicb.example"})
    assert mistyped.status_code == 422 and "no link for this escalation went to nobody@kmicb.example" in mistyped.text
    assert ICB_L1 in mistyped.text  # those it did go to, to choose from
    assert (await web.get(leaver)).status_code == 200, "nothing was withdrawn"
    done = await web.post(f"/console/e/{eid}/withdraw-links", data=form)
    assert done.status_code == 303 and done.headers["location"].endswith("withdrawn=done")
    web.cookies.clear()
    shown = await web.get(leaver)
    assert shown.status_code == 410 and "withdrawn" in shown.text and "Director of Primary Care" in shown.text
    acted = await web.post(leaver, data={"action": "acknowledge"})
    assert acted.status_code == 410 and "<form" not in acted.text
    assert (await web.post(successor, data={"action": "acknowledge"})).status_code == 200
    logged = [e for e in SecurityLog(make_engine(settings.database)).recent() if e.event == "links_withdrawn"]
    assert (
        logged[0].email == ICB_L1
        and logged[0].by == "sec-officer@lmc.example"
        and logged[0].detail["escalation_id"] == eid
    )


def test_links_signed_with_the_previous_key_work_after_rotation_until_they_expire() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = LinkKeys(current="k1", keys={"k1": old_key})
    after = LinkKeys(current="k2", keys={"k1": old_key, "k2": new_key})
    grant = LinkGrant("UWC-2026-ROTATE", ICB_L1, Role.PAYER, datetime(2027, 3, 1, tzinfo=UTC))
    sent_before = sign_link(before, grant)
    assert verify_link(after, sent_before, now=datetime(2026, 12, 1, tzinfo=UTC)) == grant
    sent_after = sign_link(after, grant)
    assert verify_link(after, sent_after, now=datetime(2026, 12, 1, tzinfo=UTC)) == grant
    with pytest.raises(Exception, match="expired on 1 March 2027"):
        verify_link(after, sent_before, now=datetime(2027, 3, 2, tzinfo=UTC))
    dropped = LinkKeys(current="k2", keys={"k2": new_key})  # the old key retired once its links expired
    with pytest.raises(Exception, match="altered or was not issued") as refused:
        verify_link(dropped, sent_before, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert "reply to the email and the LMC officer will send a new one" in str(refused.value)  # the next step


async def test_a_replacement_contact_gets_the_request_with_a_link_of_their_own_and_the_old_link_stops(
    web: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    eid = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    old_link = link(settings, eid, ICB_L1)
    await sign_in(web, "sec-officer@lmc.example", PASSWORD)
    token = await csrf_of(web, f"/console/e/{eid}")
    form = {
        "csrf": token,
        "recipient": ICB_L1,
        "new_name": "Robin Newcombe",
        "new_email": "robin.newcombe@kmicb.example",
        "reason": "Ian has left the ICB",
    }
    themselves = await web.post(
        f"/console/e/{eid}/replace-contact", data={**form, "new_email": "sec-officer@lmc.example"}
    )
    assert themselves.status_code == 422 and "never the LMC&#39;s own" in themselves.text
    changed = await web.post(f"/console/e/{eid}/replace-contact", data=form)
    assert changed.status_code == 303 and changed.headers["location"].endswith("replaced=1")
    gone = await web.post(f"/console/e/{eid}/replace-contact", data=form)
    assert gone.status_code == 422 and "is not on" in gone.text  # refused by the update's validator
    twice = {**form, "recipient": "robin.newcombe@kmicb.example", "new_email": ICB_L2}
    again = await web.post(f"/console/e/{eid}/replace-contact", data=twice)
    assert again.status_code == 422 and "already on" in again.text
    resent = (await inbox.wait_for(eid, 2))[-1]
    assert "robin.newcombe@kmicb.example" in str(resent["To"])
    new_link = re.search(r"http://\S+/r/(\S+)", resent.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert new_link is not None
    web.cookies.clear()
    assert (await web.post(f"/r/{new_link.group(1)}", data={"action": "acknowledge"})).status_code == 200
    assert (await web.get(old_link)).status_code == 410, "the old contact's links were withdrawn"
    view = await reading.summary(dev_env.client, eid)
    assert view.header.payer.contact_at(1).email == "robin.newcombe@kmicb.example", "reminders go to them too"
    for _ in range(50):  # the resent email's audit row follows its delivery by a moment
        timeline = [r.event for r in AuditLog(make_engine(settings.database)).timeline(eid)]
        if timeline.count("email_sent") >= 2:
            break
        await asyncio.sleep(0.1)
    assert "contact_replaced" in timeline and timeline.count("email_sent") >= 2
