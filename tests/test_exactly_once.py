"""Exactly once from the person's side (issue #20): every action form carries a one-time submission
id, used as the Temporal update's id, so the same form sent twice is recorded once and answered
with the first outcome; and when the engine cannot be reached the link page comes back 503 with
the form as typed. Against the real dev server, SMTP and audit log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from links.signing import LinkGrant, sign_link
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.users import Users
from service import acting, reading, starting
from service.refusals import Refused, Why
from settings import Settings
from tests.conftest import Inbox, free_port
from tests.helpers import CLAIM, ICB_L1, OFFICER, example_start, payer, sign_in
from web import temporal_budget
from web.app import create_app

SUBMISSION = re.compile(r'name="submission" value="([A-Za-z0-9_-]+)"')


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    Users(make_engine(settings.database)).add(OFFICER, "officer", "another long password")
    app = create_app(settings, dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def link_for(settings: Settings, escalation_id: str, role: Role = Role.PAYER, who: str = ICB_L1) -> str:
    grant = LinkGrant(escalation_id, who, role, datetime.now(UTC) + timedelta(days=1))
    return f"/r/{sign_link(settings.link_keys, grant)}"


def submission_for(page: httpx.Response, action: str) -> str:
    """The submission id the page's form for `action` carries."""
    form = page.text.split(f'name="action" value="{action}"', 1)[1].split("</form>", 1)[0]
    match = SUBMISSION.search(form)
    assert match, form
    return match.group(1)


async def audited(settings: Settings, escalation_id: str, event: str, expected: int) -> None:
    """The audit timeline comes to hold `expected` rows of `event` (written by an activity, so
    shortly after the answer), and no more arrive."""
    log = AuditLog(make_engine(settings.database))
    found: list[str] = []
    for _ in range(50):
        found = [row.event for row in log.timeline(escalation_id)]
        if found.count(event) >= expected:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    found = [row.event for row in log.timeline(escalation_id)]
    assert found.count(event) == expected, found


async def started(client: Client, settings: Settings, inbox: Inbox) -> str:
    eid = await starting.start(client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    return eid


async def test_temporal_answers_a_repeated_update_id_with_the_first_outcome(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    """What the design rests on, observed: the same update id twice runs the update once."""
    client = dev_env.client
    eid = await started(client, settings, inbox)
    first = await acting.respond(client, eid, payer("acknowledge"), "same-submission-1")
    again = await acting.respond(client, eid, payer("acknowledge"), "same-submission-1")
    assert again == first
    with pytest.raises(Refused) as other:  # a new submission of the same action: not open any more
        await acting.respond(client, eid, payer("acknowledge"), "other-submission-2")
    assert other.value.why is Why.NOT_OPEN
    # a refused update is not remembered: its id can be used again once the action is open
    await audited(settings, eid, "response:acknowledge", 1)


async def test_the_same_link_form_twice_is_recorded_once_and_answers_the_first_outcome(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    eid = await started(dev_env.client, settings, inbox)
    path = link_for(settings, eid)
    page = await web.get(path)
    submission = submission_for(page, "acknowledge")
    assert submission != submission_for(page, "reject")  # one id per form, never shared
    assert submission != submission_for(await web.get(path), "acknowledge")  # a fresh one per rendering

    first = await web.post(path, data={"action": "acknowledge", "submission": submission})
    assert first.status_code == 200 and "Recorded." in first.text
    second = await web.post(path, data={"action": "acknowledge", "submission": submission})  # a double click
    assert second.status_code == 200 and "Recorded." in second.text, second.text
    await audited(settings, eid, "response:acknowledge", 1)

    # a different submission of the same action is a new one: refused, as the action is not open now
    other = await web.post(path, data={"action": "acknowledge", "submission": submission_for(page, "reject")})
    assert other.status_code == 409, other.text
    await audited(settings, eid, "response:acknowledge", 1)

    # the same submission id with other values (the page changed after Back and sent again): not "Recorded",
    # but told that what was sent first stands, with these values back under a fresh id to send anew
    ask = submission_for(await web.get(path), "request_info")
    sent = await web.post(path, data={"action": "request_info", "text": "Which practices?", "submission": ask})
    assert sent.status_code == 200 and "Recorded." in sent.text, sent.text[:2000]
    edited = await web.post(path, data={"action": "request_info", "text": "Which months?", "submission": ask})
    assert edited.status_code == 409 and "already been sent, with other values" in edited.text, edited.text[:2000]
    assert ask not in edited.text  # nothing offered again under the id whose first values stand
    await audited(settings, eid, "response:request_info", 1)


async def test_a_malformed_submission_is_refused_naming_it_and_a_missing_one_is_accepted(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    eid = await started(dev_env.client, settings, inbox)
    path = link_for(settings, eid)
    for bad in ("short", "x" * 65, "has space in it", "ünïcödé-ünïcödé", "a:b:c:d:e:f"):
        refused = await web.post(path, data={"action": "reject", "reasons": "Kept as typed", "submission": bad})
        assert refused.status_code == 422 and "This form: not a submission id" in refused.text, (bad, refused.text)
        assert "Kept as typed" in refused.text
        assert SUBMISSION.search(refused.text)  # and a valid id to send it again with
    await audited(settings, eid, "response:reject", 0)
    # a page rendered before forms carried an id: accepted (the id is made on the server)
    old_page = await web.post(path, data={"action": "acknowledge"})
    assert old_page.status_code == 200 and "Recorded." in old_page.text
    await audited(settings, eid, "response:acknowledge", 1)


async def test_the_console_officer_form_twice_is_recorded_once(
    dev_env: WorkflowEnvironment, web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    eid = await started(dev_env.client, settings, inbox)
    await sign_in(web, OFFICER, "another long password")
    page = await web.get(f"/console/e/{eid}")
    assert page.status_code == 200
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    submission = submission_for(page, "declare_interest")
    form = {"action": "declare_interest", "text": "G99999", "reasons": "a friend works there", "csrf": csrf}
    act = f"/console/e/{eid}/act"

    first = await web.post(act, data={**form, "submission": submission})
    assert first.status_code == 303, first.text
    second = await web.post(act, data={**form, "submission": submission})
    assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
    await audited(settings, eid, "interest_declared", 1)
    edited = await web.post(act, data={**form, "reasons": "my sister works there", "submission": submission})
    assert edited.status_code == 409 and "already been sent, with other values" in edited.text  # not "recorded"
    await audited(settings, eid, "interest_declared", 1)
    # another submission is another declaration (declaring is always open): recorded again
    third = await web.post(act, data={**form, "submission": submission_for(page, "withdraw")})
    assert third.status_code == 303
    await audited(settings, eid, "interest_declared", 2)

    withdraw = {"action": "withdraw", "reasons": "exactly once test over", "csrf": csrf, "confirm": "yes"}
    once = await web.post(act, data={**withdraw, "submission": "withdraw-submission-1"})
    assert once.status_code == 303 and once.headers["location"].endswith("?done=closed")
    assert "Recorded: the escalation is now closed." in (await web.get(once.headers["location"])).text
    crafted = await web.get(f"/console/e/{eid}?done=paid_in_full_by_the_ICB")  # a link made to mislead: no notice
    assert crafted.status_code == 200 and "Recorded:" not in crafted.text
    # the escalation has finished; the same submission still answers with its outcome, not "finished"
    twice = await web.post(act, data={**withdraw, "submission": "withdraw-submission-1"})
    assert twice.status_code == 303 and twice.headers["location"] == once.headers["location"]
    other = await web.post(act, data={**withdraw, "submission": "withdraw-submission-2"})
    assert other.status_code == 409, other.text
    await audited(settings, eid, "response:withdraw", 1)
    assert (await reading.summary(dev_env.client, eid)).outcome is not None


async def test_engine_unreachable_gives_the_form_back_as_typed_with_503(
    dev_env: WorkflowEnvironment,
    web: httpx.AsyncClient,
    settings: Settings,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(temporal_budget, "REQUEST_BUDGET", 2.0)  # the same answer, sooner
    eid = await started(dev_env.client, settings, inbox)
    path = link_for(settings, eid)
    submission = submission_for(await web.get(path), "reject")
    typed = "Every line is <funded> already & we will not pay twice"
    # Temporal goes away: the app's client is one for an address where nothing answers
    gone = await Client.connect(
        f"127.0.0.1:{free_port()}",
        lazy=True,
        data_converter=pydantic_data_converter,
        namespace=settings.temporal_namespace,
    )
    app = web._transport.app  # type: ignore[attr-defined]
    app.state.client = gone
    try:
        answer = await web.post(path, data={"action": "reject", "reasons": typed, "submission": submission})
    finally:
        app.state.client = dev_env.client
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "60"
    assert (
        "Your response was not recorded. Nothing you typed is lost: press the button again in a minute." in answer.text
    )
    textarea = re.search(r'<textarea[^>]*name="reasons"[^>]*>([^<]*)</textarea>', answer.text)
    assert textarea and textarea.group(1) == "Every line is &lt;funded&gt; already &amp; we will not pay twice"
    assert f'name="submission" value="{submission}"' in answer.text  # the same submission, to send again

    # back again: pressing the button on that page records it, once
    again = await web.post(path, data={"action": "reject", "reasons": typed, "submission": submission})
    assert again.status_code == 200 and "Recorded." in again.text, again.text
    await audited(settings, eid, "response:reject", 1)


async def test_the_update_unanswered_gives_the_page_back_as_typed_with_503(
    dev_env: WorkflowEnvironment,
    web: httpx.AsyncClient,
    settings: Settings,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The escalation could be read but its update was not answered (a worker gone): the whole page,
    with the form as typed under its own submission id."""
    eid = await started(dev_env.client, settings, inbox)
    path = link_for(settings, eid)
    submission = submission_for(await web.get(path), "reject")

    async def unanswered(*_: object) -> None:
        raise Refused(Why.UNAVAILABLE, "The escalation engine did not answer in time; nothing was recorded.")

    monkeypatch.setattr(acting, "respond_to_form", unanswered)
    answer = await web.post(path, data={"action": "reject", "reasons": "Not ours to fund", "submission": submission})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "60"
    assert "We could not confirm that your response was recorded. Nothing you typed is lost" in answer.text
    assert ">Not ours to fund</textarea>" in answer.text and "Acknowledge receipt" in answer.text
    assert submission_for(answer, "reject") == submission
    await audited(settings, eid, "response:reject", 0)
