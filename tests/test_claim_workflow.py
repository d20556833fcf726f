"""The unfunded claim workflow on the time-skipping server, with real SMTP and audit."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.calendar import LEGACY_CALENDAR
from domain.unfunded_claim import ClaimCase
from domain.working_days import add_working_days, working_days_left
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from service import acting, starting
from service.refusals import Refused
from settings import Settings
from tests.conftest import Inbox, body_text
from tests.helpers import (
    CHAIR,
    CLAIM,
    ICB_L1,
    ICB_L2,
    ICB_L3,
    OFFICER,
    example_start,
    officer,
    payer,
    skip_past_deadline,
    summary_of,
)
from workflows import search_attributes as sa
from workflows.unfunded_claim import UnfundedClaimWorkflow


async def test_claim_paid_end_to_end(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    start = example_start(settings)
    eid = await starting.start(client, settings, CLAIM, start)
    [first] = await inbox.wait_for(eid, 1)
    assert first["To"].addresses[0].addr_spec == ICB_L1
    assert "/r/" in body_text(first, "plain")

    outcome = await acting.respond(client, eid, payer("acknowledge"))
    assert outcome.status == "acknowledged"
    outcome = await acting.respond(client, eid, payer("accept"))
    assert outcome.status == "payment_expected"
    with pytest.raises(Refused, match="not open"):
        await acting.respond(client, eid, payer("reject", reasons="too late"))
    outcome = await acting.respond(client, eid, officer("confirm_payment"))
    assert outcome.status == "closed"
    view = await client.get_workflow_handle_for(UnfundedClaimWorkflow.run, eid).result()
    assert view.outcome == "paid"

    emails = inbox.for_case(eid)
    roots = {m["In-Reply-To"] for m in emails[1:]}
    assert roots == {first["Message-ID"]}
    audit = AuditLog(make_engine(settings.database))
    events = [r.event for r in audit.timeline(eid)]
    assert events[0] == "submitted"
    assert "response:acknowledge" in events and events[-1] in ("closed", "email_sent")
    assert audit.verify(eid).ok


def _addressees(message: EmailMessage) -> tuple[str, set[str]]:
    to = message["To"].addresses[0].addr_spec
    cc = {a.addr_spec for a in message["Cc"].addresses} if message["Cc"] else set()
    return to, cc


async def test_silence_climbs_the_ladder_to_stalled(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    eid = await starting.start(client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)
    expected = [
        ("Reminder", ICB_L1, set()),
        ("Escalated", ICB_L2, {ICB_L1}),
        ("Reminder", ICB_L2, {ICB_L1}),
        ("Escalated", ICB_L3, {ICB_L1, CHAIR}),
        ("Reminder", ICB_L3, {ICB_L1, CHAIR}),
        ("Stalled", OFFICER, set()),
    ]
    for count, (headline, to, cc_includes) in enumerate(expected, start=2):
        await skip_past_deadline(time_env, eid)
        message = (await inbox.wait_for(eid, count))[-1]
        assert headline in str(message["Subject"]), message["Subject"]
        got_to, got_cc = _addressees(message)
        assert got_to == to and cc_includes <= got_cc
    view = await summary_of(client, eid)
    assert view.stalled and view.ladder_level == 3 and view.on_liaison_agenda
    # Read raw: the time-skipping server keeps an unset datetime attribute in a form describe() cannot decode.
    description = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=eid))
    )
    fields = description.workflow_execution_info.search_attributes.indexed_fields
    assert [fields[k.name].data for k in (sa.STALLED, sa.OVERDUE, sa.LADDER_LEVEL)] == [b"true", b"true", b"3"]
    assert view.wait is not None and view.wait.deadline is None
    # Stalled never closes by itself, and the first contact's link still works.
    await time_env.sleep(timedelta(days=90))
    assert len(inbox.for_case(eid)) == 7
    outcome = await acting.respond(client, eid, payer("acknowledge", email=ICB_L1))
    assert outcome.status == "acknowledged"
    view = await summary_of(client, eid)
    assert not view.stalled and view.ladder_level == 3

    events = [r.event for r in AuditLog(make_engine(settings.database)).timeline(eid)]
    assert events.count("deadline_missed") == 6
    assert events.count("ladder_climbed") == 2 and "stalled" in events


async def test_information_request_pauses_the_payer_clock(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    eid = await starting.start(client, settings, CLAIM, example_start(settings))
    await acting.respond(client, eid, payer("acknowledge"))
    before = await summary_of(client, eid)
    assert before.wait is not None and before.wait.deadline is not None
    await time_env.sleep(timedelta(days=7))
    now = await time_env.get_current_time()
    left = working_days_left(LEGACY_CALENDAR, now, datetime.fromisoformat(before.wait.deadline))
    await acting.respond(client, eid, payer("request_info", text="Which letters relate to fit notes?"))
    paused = await summary_of(client, eid)
    assert paused.status == "information_requested" and paused.wait is not None
    assert paused.wait.holder == "officer"
    # The officer is reminded, then marked overdue; the payer is never chased meanwhile.
    await skip_past_deadline(time_env, eid)
    await skip_past_deadline(time_env, eid)
    await time_env.sleep(timedelta(days=30))
    subjects = [str(m["Subject"]) for m in inbox.for_case(eid)]
    assert not any("Reminder" in s and "overdue" in s for s in subjects), subjects
    assert any("due from the LMC" in s for s in subjects)
    outcome = await acting.respond(client, eid, officer("supply_info", text="Letters KLMC-1730 onwards."))
    assert outcome.status == "acknowledged"
    resumed = await summary_of(client, eid)
    assert resumed.wait is not None and resumed.wait.deadline is not None
    restart = await time_env.get_current_time()
    assert datetime.fromisoformat(resumed.wait.deadline) == add_working_days(LEGACY_CALENDAR, restart, left)
    answered = (await inbox.wait_for(eid, len(subjects) + 1))[-1]
    assert _addressees(answered)[0] == ICB_L1


async def test_counter_offer_disputed_escalates_then_payment_overdue_is_chased(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    start = example_start(settings)
    eid = await starting.start(client, settings, CLAIM, start)
    claimed = start.claim.total_pence
    with pytest.raises(Refused, match="amount_pence"):
        await acting.respond(client, eid, payer("accept_part", amount_pence=claimed, reasons="all of it"))
    await acting.respond(client, eid, payer("accept_part", amount_pence=100_00, reasons="Only referrals"))
    outcome = await acting.respond(client, eid, officer("dispute", reasons="Every category is a breach"))
    assert outcome.status == "disputed"
    disputed = (await inbox.wait_for(eid, 3))[-1]
    assert _addressees(disputed)[0] == ICB_L2
    await acting.respond(client, eid, payer("accept_part", email=ICB_L2, amount_pence=2000_00, reasons="Most"))
    outcome = await acting.respond(client, eid, officer("accept_offer"))
    assert outcome.status == "payment_expected"
    sent = len(inbox.for_case(eid))
    await skip_past_deadline(time_env, eid)
    chase = (await inbox.wait_for(eid, sent + 1))[-1]
    assert "payment overdue" in str(chase["Subject"]) and _addressees(chase)[0] == ICB_L2
    view = await summary_of(client, eid)
    assert view.case_as(ClaimCase).agreed_pence == 2000_00 and view.wait is not None and view.wait.misses == 1


async def test_refused_responses_leave_no_trace_in_history(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    eid = await starting.start(client, settings, CLAIM, example_start(settings))
    handle = client.get_workflow_handle(eid)
    await inbox.wait_for(eid, 1)
    with pytest.raises(Refused, match="not open"):
        await acting.respond(client, eid, officer("accept_offer"))
    with pytest.raises(Refused, match="not a contact"):
        await acting.respond(client, eid, payer("acknowledge", email="someone@else.example"))
    with pytest.raises(Refused, match="reasons"):
        await acting.respond(client, eid, payer("reject"))
    history = await handle.fetch_history()
    update_events = [e for e in history.events if "UPDATE" in EventType.Name(e.event_type)]
    assert update_events == []
    medsec = officer("declare_interest", text="g82005", reasons="Salaried GP there").model_copy(
        update={"actor_email": "medsec@lmc.example"}
    )
    outcome = await acting.respond(client, eid, medsec)
    assert "may view it but not act" in outcome.message
    barred = officer("withdraw", reasons="Mine to withdraw").model_copy(update={"actor_email": "medsec@lmc.example"})
    with pytest.raises(Refused, match="declared an interest in G82005"):
        await acting.respond(client, eid, barred)
    assert (await summary_of(client, eid)).outcome is None
    await acting.respond(client, eid, officer("withdraw", reasons="Resolved at the liaison meeting"))
    with pytest.raises(Refused, match="closed"):
        await acting.respond(client, eid, payer("acknowledge"))
    view = await client.get_workflow_handle_for(UnfundedClaimWorkflow.run, eid).result()
    assert view.outcome == "withdrawn"
