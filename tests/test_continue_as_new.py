"""An escalation lasts weeks to months, so its history must not grow without bound: when Temporal suggests it,
a run carries its case over and continues as new (`EscalationWorkflow.run_until_closed`, `carry_over`). Here a
dev server of its own suggests that after a few dozen events, where Temporal's default is thousands, so a claim
crosses runs on its ordinary path; it must end as it would have: the same outcome, every audit row and email
once, the chain intact, and the people's answers taken by whichever run is current."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.calendar import LEGACY_CALENDAR
from domain.contacts import Role
from domain.deregistration import DeregistrationCase
from domain.pathology import PathologyCase
from domain.responses import ResponseInput
from domain.working_days import next_working_day
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.incident_tallies import IncidentTallies
from service import acting, reading, starting
from service.gate import ListFilters, admit
from service.refusals import Refused, Why
from settings import Settings
from tests.conftest import Inbox, start_dev_server
from tests.helpers import CLAIM, example_start, officer, payer, running_worker, settled_view, summary_of
from tests.test_deregistration import ICB_L1 as DEREGISTRATION_ICB
from tests.test_deregistration import group, practice_reply
from tests.test_deregistration import start_example as start_deregistration
from tests.test_exactly_once import audited
from tests.test_pathology import ICB_L1, OFFICER, TRUST_L1, counts, practice, start_example, value
from workflows.pathology import PathologyWorkflow
from workflows.unfunded_claim import UnfundedClaimWorkflow

SUGGEST_AFTER_EVENTS = 20


@pytest.fixture(scope="module")
async def short_histories() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server(f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}")
    yield env
    await env.shutdown()


async def runs_of(client: Client, escalation_id: str, last_run: str) -> list[list[int]]:
    """Each run's event types, first run first, following the chain back from `last_run`."""
    runs: list[list[int]] = []
    run_id: str | None = last_run
    while run_id:
        history = await client.get_workflow_handle(escalation_id, run_id=run_id).fetch_history()
        runs.insert(0, [e.event_type for e in history.events])
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return runs


async def continued(client: Client, workflow_id: str) -> bool:
    """The workflow's current run was started by continuing an earlier one."""
    for _ in range(50):
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        if history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_claim_continues_as_new_and_ends_as_it_would_have(
    short_histories: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    client = short_histories.client
    async with running_worker(client, settings):
        eid = await starting.start(client, settings, CLAIM, example_start(settings))
        await inbox.wait_for(eid, 1)
        # Days apart, as people answer: each answer's email is out (the run idle again) before the next.
        assert (await acting.respond(client, eid, payer("acknowledge"))).status == "acknowledged"
        await inbox.wait_for(eid, 2)
        assert (await acting.respond(client, eid, payer("accept"))).status == "payment_expected"
        await inbox.wait_for(eid, 3)
        # The history is long by now; the run continues once idle (its email's audit row written). Waiting for
        # that, rather than for the email alone, keeps the last answer from racing the run's last step.
        assert await continued(client, eid), "the claim never continued as new"
        assert (await acting.respond(client, eid, officer("confirm_payment"))).status == "closed"
        handle = client.get_workflow_handle_for(UnfundedClaimWorkflow.run, eid)
        view = await handle.result()
        last_run = (await handle.describe()).run_id

    assert view.outcome == "paid"
    runs = await runs_of(client, eid, last_run)
    assert len(runs) >= 2, "the claim never continued as new"
    for earlier in runs[:-1]:
        assert earlier[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert runs[-1][-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED

    audit = AuditLog(make_engine(settings.database))
    rows = audit.timeline(eid)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # no step lost or written twice across runs
    assert audit.verify(eid).ok
    events = [r.event for r in rows]
    for once in ("submitted", "response:acknowledge", "response:accept", "response:confirm_payment"):
        assert events.count(once) == 1, events
    ids = [m["Message-ID"] for m in inbox.for_case(eid)]
    assert len(ids) == len(set(ids)) == events.count("email_sent")


async def test_an_incident_continues_as_new_and_ends_as_it_would_have(
    short_histories: WorkflowEnvironment, settings: Settings, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    """An incident (issue #19) and its practices continue as new whenever their histories grow long, from the
    returns to every practice settled. The incident holds no handle to its cohorts or the trust's claim: they
    tell it by signal how they ended, across its runs. Its practices' claims and shares go outside the history
    when it continues (`persistence.incident_tallies`) and come back, so what it pays is what it claimed."""
    client = short_histories.client
    async with running_worker(client, settings):
        eid, codes = await start_example(client, settings)
        await inbox.wait_for(eid, 42, family=True)
        returned = codes[:3]
        for n, ods in enumerate(returned):  # a return, then a correction once it is stored
            await acting.respond(client, f"{eid}-{ods}", practice(ods, counts=counts(n)))
            await inbox.wait_for(f"{eid}-{ods}", 1)
            await audited(settings, f"{eid}-{ods}", "response:submit_return", 1)
            await acting.respond(client, f"{eid}-{ods}", practice(ods, counts=counts(n + 10)))
        for ods in returned:
            assert await continued(client, f"{eid}-{ods}"), ods
        closing = ResponseInput(action="close_returns", actor_email=OFFICER, actor_role=Role.OFFICER)
        await acting.respond(client, eid, closing)
        await inbox.wait_for(f"{eid}-CLAIM", 1)  # every cohort heard from every practice; returns were priced
        assert await continued(client, eid), "the incident never continued as new"
        claimed = (await summary_of(client, eid)).case_as(PathologyCase).claimed  # read back in its new run
        assert claimed == {ods: value(n + 10) for n, ods in enumerate(returned)}

        trust = {"actor_email": TRUST_L1, "actor_role": Role.PAYER}
        await acting.respond(client, f"{eid}-CLAIM", ResponseInput(action="acknowledge", **trust))
        await acting.respond(client, f"{eid}-CLAIM", ResponseInput(action="accept", **trust))
        for ods in returned:  # each practice is told its share (the claim in full), then confirms receipt
            await inbox.wait_for(f"{eid}-{ods}", 2)
            await acting.respond(client, f"{eid}-{ods}", practice(ods, action="confirm_receipt"))
        report = ResponseInput(action="confirm", text="https://imperial.example/uacr-report", **trust)
        await acting.respond(client, f"{eid}-INCIDENT-REPORT", report)
        mechanism = "Recognised in the year-end reconciliation"
        icb = ResponseInput(action="confirm", actor_email=ICB_L1, actor_role=Role.PAYER, text=mechanism)
        await acting.respond(client, f"{eid}-YEAR-END", icb)
        handle = client.get_workflow_handle_for(PathologyWorkflow.run, eid)
        view = await asyncio.wait_for(handle.result(), timeout=60)
        last_run = (await handle.describe()).run_id

    assert view.outcome == "settled", view.status
    case = view.case_as(PathologyCase)
    assert case.claimed == claimed and case.shares == claimed  # paid what was claimed, across runs
    runs = await runs_of(client, eid, last_run)
    assert len(runs) >= 3, [len(r) for r in runs]
    for earlier in runs[:-1]:
        assert earlier[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert runs[-1][-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert not [r for r in caplog.records if "does not continue as new" in r.getMessage()]
    stored = IncidentTallies(make_engine(settings.database)).page(eid, "", 100)
    assert {e.ods: e.claimed_pence for e in stored} == claimed

    audit = AuditLog(make_engine(settings.database))
    rows = audit.timeline(eid)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1)) and audit.verify(eid).ok
    events = [r.event for r in rows]
    for once in ("returns_collected", "shares_allocated", "practices_settled", "closed"):
        assert events.count(once) == 1, events
    assert events.count("child_closed") == 3, events  # the claim, the incident report and the year end
    for ods in returned:
        rows = audit.timeline(f"{eid}-{ods}")
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1)) and audit.verify(f"{eid}-{ods}").ok
    ids = [m["Message-ID"] for m in inbox.for_case(eid)]
    assert len(ids) == len(set(ids))


async def test_a_deregistration_continues_as_new_and_pays_its_shares_from_the_claims_read_back(
    short_histories: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    """The other incident kind on the same path: the ICB confirms a pot larger than the loss in a later run than the
    one that priced the returns, and each practice's share is its claim, as read back from the tally table."""
    client = short_histories.client
    async with running_worker(client, settings):
        eid, codes = await start_deregistration(client, settings)
        await inbox.wait_for(eid, 13, family=True)
        for ods in codes[:3]:
            await acting.respond(client, f"{eid}-{ods}", practice_reply(ods, groups=[group(12, 40)]))
        officer_closes = ResponseInput(action="close_returns", actor_email=OFFICER, actor_role=Role.OFFICER)
        await acting.respond(client, eid, officer_closes)
        await inbox.wait_for(f"{eid}-POT", 1)
        assert await continued(client, eid), "the incident never continued as new"
        claimed = (await summary_of(client, eid)).case_as(DeregistrationCase).claimed
        assert len(claimed) == 3
        today = datetime.now(UTC).date()
        pot = ResponseInput(
            action="confirm",
            actor_email=DEREGISTRATION_ICB,
            actor_role=Role.PAYER,
            amount_pence=sum(claimed.values()) + 500_00,
            on_date=next_working_day(LEGACY_CALENDAR, today + timedelta(days=31)),
        )
        await acting.respond(client, f"{eid}-POT", pot)
        view = await settled_view(client, eid, lambda v: bool(v.case_as(DeregistrationCase).shares))
        assert view.case_as(DeregistrationCase).shares == claimed
        for ods in codes[:3]:  # each practice told its share: its claim, the pot being larger
            await inbox.wait_for(f"{eid}-{ods}", 2)
        closing = ResponseInput(action="close_incident", actor_email=OFFICER, actor_role=Role.OFFICER, reasons="test")
        await acting.respond(client, eid, closing)
        final = await asyncio.wait_for(client.get_workflow_handle(eid).result(), timeout=60)
    assert final["outcome"] is not None
    audit = AuditLog(make_engine(settings.database))
    events = [r.event for r in audit.timeline(eid)]
    assert events.count("shares_allocated") == 1 and events.count("returns_collected") == 1 and audit.verify(eid).ok


async def test_ops_stopping_an_incident_stop_everything_it_started(
    short_histories: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    """An incident's cohorts and payers' requests are abandoned when a run closes (so that it may continue as
    new), so ops stopping it stop them too: nothing it started goes on emailing practices or payers."""
    client = short_histories.client
    async with running_worker(client, settings):
        eid, codes = await start_example(client, settings)
        await inbox.wait_for(eid, 42, family=True)
        audit = AuditLog(make_engine(settings.database))
        assert await acting.stop(client, audit, eid, "ops@lmc.example", "Raised in error", cancel=False) == "terminated"
        with pytest.raises(Refused, match="there is nothing to stop"):  # again: refused, and nothing audited
            await acting.stop(client, audit, eid, "ops@lmc.example", "Raised in error", cancel=True)
        family = [f"{eid}-C01", f"{eid}-INCIDENT-REPORT", f"{eid}-YEAR-END", f"{eid}-{codes[0]}", f"{eid}-{codes[-1]}"]
        for workflow_id in family:  # a cohort's practices are cancelled with it, by Temporal
            for _ in range(100):
                status = (await client.get_workflow_handle(workflow_id).describe()).status
                if status != WorkflowExecutionStatus.RUNNING:
                    break
                await asyncio.sleep(0.1)
            assert status != WorkflowExecutionStatus.RUNNING, workflow_id
        # Each reads as stopped, not as it stood when it stopped: nothing waited for, offered or overdue.
        for workflow_id in (eid, f"{eid}-YEAR-END", f"{eid}-{codes[0]}"):
            try:
                view = await summary_of(client, workflow_id)
            except Refused as refused:  # stopped while a step waited to start: Temporal has no state to show
                assert workflow_id != eid and refused.why is Why.CLOSED and "has finished" in refused.message
                continue
            assert (view.status, view.outcome, view.wait) == ("stopped", "stopped", None), workflow_id
            assert dict(view.facts).get("Status", "stopped by ops staff") == "stopped by ops staff"
            assert "open" not in dict(view.facts).values(), view.facts
            assert not (view.payer_actions or view.officer_actions or view.practice_actions), workflow_id
        query = reading.list_query(admit(ListFilters, {"status": "Stopped", "search": eid}))
        for _ in range(50):  # visibility is eventually consistent
            rows = {row.id: row for row in await reading.list_escalations(client, query)}
            if eid in rows:
                break
            await asyncio.sleep(0.1)
        assert rows[eid].status == "stopped" and rows[eid].next_deadline is None and rows[eid].holder is None
    stopped = audit.timeline(eid)[-1]
    assert stopped.event == "terminated"
    assert (stopped.detail["cohorts_stopped"], stopped.detail["requests_stopped"]) == (1, 2)


async def test_ops_stopping_one_practice_stop_it_alone_and_the_incident_goes_on(
    short_histories: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    """A practice ops stop (its return raised in error, say) ends alone: its cohort counts it stopped and as
    having closed its returns, the practices beside it go on, and the incident still prices what came in.
    (Its cohort had failed with it, and taken all its siblings with it.)"""
    client = short_histories.client
    async with running_worker(client, settings):
        eid, codes = await start_example(client, settings)
        await inbox.wait_for(eid, 42, family=True)
        audit = AuditLog(make_engine(settings.database))
        await acting.stop(client, audit, f"{eid}-{codes[0]}", "ops@lmc.example", "Raised in error", cancel=True)
        await acting.respond(client, f"{eid}-{codes[1]}", practice(codes[1], counts=counts(1)))
        sibling = await summary_of(client, f"{eid}-{codes[2]}")
        assert sibling.outcome is None and sibling.practice_actions, "a sibling went down with the stopped practice"
        assert "Return due by" in dict(sibling.facts)
        for _ in range(50):  # its cancellation reaches it
            stopped = await summary_of(client, f"{eid}-{codes[0]}")
            if stopped.status == "stopped":
                break
            await asyncio.sleep(0.1)
        assert stopped.status == "stopped" and "Return due by" not in dict(stopped.facts), "awaits nothing now"
        closing = ResponseInput(action="close_returns", actor_email=OFFICER, actor_role=Role.OFFICER)
        await acting.respond(client, eid, closing)
        await inbox.wait_for(f"{eid}-CLAIM", 1)  # every cohort said its returns were closed, the stopped one's too
        claimed = (await summary_of(client, eid)).case_as(PathologyCase).claimed
        assert claimed == {codes[1]: value(1)}
        cohort = await client.get_workflow_handle(f"{eid}-C01").describe()
        assert cohort.status == WorkflowExecutionStatus.RUNNING
        await acting.stop(client, audit, eid, "ops@lmc.example", "Test over", cancel=False)
