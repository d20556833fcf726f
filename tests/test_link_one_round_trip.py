"""A link page's POST is one Temporal round trip (issue #16): the form goes as typed in one update, the
workflow's validator reads it by the case's field specs (refusing with each field named), and the update
answers with the outcome and the case as it now stands. A submission recorded by the older `respond` update
is still answered once, with its first outcome. Against the real dev server, SMTP and audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    StartWorkflowUpdateInput,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from domain.form_response import FormResponse
from persistence.database import make_engine
from persistence.users import Users
from service import acting
from service.refusals import Refused, Why
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import ICB_L1, OFFICER, payer
from tests.test_exactly_once import audited, link_for, started, submission_for
from tests.test_replay import replay_and_maybe_record
from web.app import create_app


class Calls(Interceptor):
    """Counts what the web asks Temporal about escalations: queries and updates."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        seen = self.seen

        class Counting(OutboundInterceptor):
            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                seen.append(f"query:{input.query}")
                return await super().query_workflow(input)

            async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
                seen.append(f"update:{input.update}")
                return await super().start_workflow_update(input)

        return Counting(next)


@pytest.fixture
async def counted(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Calls]]:
    Users(make_engine(settings.database)).add(OFFICER, "officer", "another long password")
    calls = Calls()
    config = dev_env.client.config()
    config["interceptors"] = [*config["interceptors"], calls]
    app = create_app(settings, Client(**config))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, calls


async def test_a_link_post_is_one_update_and_a_refusal_names_the_field(
    dev_env: WorkflowEnvironment, counted: tuple[httpx.AsyncClient, Calls], settings: Settings, inbox: Inbox
) -> None:
    web, calls = counted
    eid = await started(dev_env.client, settings, inbox)
    path = link_for(settings, eid)
    page = await web.get(path)

    calls.seen.clear()
    answer = await web.post(path, data={"action": "acknowledge", "submission": submission_for(page, "acknowledge")})
    assert answer.status_code == 200 and "Recorded." in answer.text, answer.text
    assert calls.seen == ["update:respond_to_form"]  # no read before, none after
    await audited(settings, eid, "response:acknowledge", 1)

    # a field at fault: refused by the workflow's validator, named beside its field, the case read once to show it
    page = await web.get(path)
    calls.seen.clear()
    form = {"action": "accept_part", "amount": "twelve pounds", "reasons": "Kept as typed"}
    refused = await web.post(path, data={**form, "submission": submission_for(page, "accept_part")})
    assert refused.status_code == 422, refused.text
    assert "amount" in refused.text and "Kept as typed" in refused.text
    assert calls.seen == ["update:respond_to_form", "query:summary"]
    await audited(settings, eid, "response:accept_part", 0)


async def test_a_submission_recorded_by_the_older_update_is_answered_once_with_its_first_outcome(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    client = dev_env.client
    eid = await started(client, settings, inbox)
    first = await acting.respond(client, eid, payer("acknowledge"), "old-shape-submission")
    form = FormResponse(form={"action": "acknowledge"}, actor_email=ICB_L1, actor_role=Role.PAYER)
    outcome, view = await acting.respond_to_form(client, eid, form, "old-shape-submission")
    assert outcome == first and view is None  # the first outcome, in the shape it was recorded in
    await audited(settings, eid, "response:acknowledge", 1)

    # the new shape: the outcome and the case as it stands after it
    form = FormResponse(
        form={"action": "accept_part", "amount": "1,500.00", "reasons": "Referrals only"},
        actor_email=ICB_L1,
        actor_role=Role.PAYER,
    )
    outcome, view = await acting.respond_to_form(client, eid, form, "new-shape-submission")
    assert (
        view is not None and view.escalation_id == eid and "dispute" in view.officer_actions
    )  # as it stands after the response
    again, _ = await acting.respond_to_form(client, eid, form, "new-shape-submission")
    assert again == outcome
    with pytest.raises(Refused) as wrong:
        bad = FormResponse(form={"action": "dispute", "reasons": ""}, actor_email=OFFICER, actor_role=Role.OFFICER)
        await acting.respond_to_form(client, eid, bad, "refused-submission")
    assert wrong.value.why is Why.INVALID and wrong.value.fields == {"reasons": "required"}

    # and the run, with both updates in it, replays against this code (RECORD_HISTORIES=1 keeps it)
    await replay_and_maybe_record(client, eid, "unfunded_claim_form_responses")


async def test_a_form_of_huge_values_is_refused_and_the_escalation_still_answers(
    dev_env: WorkflowEnvironment, counted: tuple[httpx.AsyncClient, Calls], settings: Settings, inbox: Inbox
) -> None:
    """What hostile POSTs once did: a refusal that quoted every value whole, and then a form of control characters
    just under the body limit (1 MB, written six bytes a character in the update Temporal carries back), each
    past Temporal's 2 MB payload limit, so the escalation's task failed over and over and its pages answered 503
    until the engine restarted. A form past `domain.form_response`'s bounds never leaves the web app."""
    web, calls = counted
    eid = await started(dev_env.client, settings, inbox)
    path = link_for(settings, eid)
    page = await web.get(path)
    huge = {"action": "accept_part", "amount": "x" * 400_000, "on_date": "y" * 400_000, "reasons": "z" * 100_000}
    sent_before = [c for c in calls.seen if c.startswith("update:")]
    refused = await web.post(path, data={**huge, "submission": submission_for(page, "accept_part")})
    assert refused.status_code == 422 and "is far longer than this form takes" in refused.text, refused.text[:500]
    assert "x" * 100 not in refused.text and "z" * 100 not in refused.text  # not echoed back either
    jam = {"action": "reject", "reasons": "\x01" * 349_300, "submission": submission_for(page, "accept_part")}
    refused = await web.post(path, data=jam)
    assert refused.status_code == 422 and "Reasons" in refused.text, refused.text[:500]
    assert [c for c in calls.seen if c.startswith("update:")] == sent_before  # neither reached Temporal
    again = await web.get(path)
    assert again.status_code == 200
    sane = await web.post(path, data={"action": "accept_part", "amount": "12.50", "on_date": "x" * 7_000,
                                      "submission": submission_for(again, "accept_part")})  # fmt: skip
    assert sane.status_code == 422 and "is not a date" in sane.text  # within the bounds: the workflow's own rules
    answer = await web.post(path, data={"action": "acknowledge", "submission": submission_for(again, "acknowledge")})
    assert answer.status_code == 200 and "Recorded." in answer.text
