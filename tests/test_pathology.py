"""Pathology error compensation on the time-skipping server, with real SMTP and audit."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import decode_typed_search_attributes
from temporalio.testing import WorkflowEnvironment

from domain.contacts import Role
from domain.pathology import PathologyCase
from domain.responses import ResponseInput
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from service import acting, starting
from service.refusals import Refused
from settings import ROOT, Settings
from tests.conftest import Inbox
from tests.helpers import PATHOLOGY, settled_view, summary_of, working_day_after
from tests.test_replay import replay_and_maybe_record
from workflows import search_attributes as sa
from workflows.pathology import PathologyWorkflow
from workflows.practice_cohort import COHORT_SIZE, START_BATCH

EXAMPLE = ROOT / "examples" / "pathology_nwl_uacr.json"
TRUST_L1, TRUST_L2 = "gp.liaison@imperial.example", "medical.director@imperial.example"
ICB_L1 = "pc.commissioning@nwlicb.example"
OFFICER = "ceo@lmc.example"


def practice(ods: str, action: str = "submit_return", **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=f"pm.{ods.lower()}@nhs.example", actor_role=Role.PRACTICE, **fields)


def counts(n: int) -> dict[str, int]:
    return {"patients_reviewed": 10 + n, "recall_appointments": n, "repeat_tests": 2 * n, "admin_hours": 1}


def value(n: int) -> int:
    return (10 + n) * 1200 + n * 2500 + 2 * n * 800 + 3000


async def start_example(client: Client, settings: Settings, **changes: Any) -> tuple[str, list[str]]:
    data = {**json.loads(EXAMPLE.read_text()), **changes}
    eid = f"PEC-TEST-{uuid.uuid4().hex[:8].upper()}"
    start = starting.prepare(PATHOLOGY, settings.escalation_config(), data, eid)
    await starting.start(client, settings, PATHOLOGY, start)
    return eid, [p["ods"] for p in data["practices"]]


async def skip_to(env: WorkflowEnvironment, instant: datetime | str) -> None:
    when = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    await env.sleep(when - await env.get_current_time() + timedelta(minutes=1))


def addressed(message: Any) -> tuple[str, set[str]]:
    cc = {a.addr_spec for a in message["Cc"].addresses} if message["Cc"] else set()
    return message["To"].addresses[0].addr_spec, cc


async def test_an_incident_from_returns_to_every_practice_paid(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    # Year-end a few months ahead of the test server's clock, wherever earlier tests left it.
    year_end = working_day_after(await time_env.get_current_time(), 150)
    eid, codes = await start_example(client, settings, year_end_reconciliation_date=year_end)
    await inbox.wait_for(eid, 42, family=True)  # 40 return requests, the ICB's year-end and the trust's report
    on_time, late, silent = codes[:30], codes[30], codes[31:]
    for n, ods in enumerate(on_time):
        await acting.respond(client, f"{eid}-{ods}", practice(ods, counts=counts(n)))
    await acting.respond(client, f"{eid}-{on_time[0]}", practice(on_time[0], counts=counts(50)))  # corrected
    try:
        await acting.respond(client, f"{eid}-{on_time[1]}", practice(on_time[1], counts={"patients_reviewed": 3}))
        raise AssertionError("an incomplete return was accepted")
    except Refused as refused:
        assert "counts.recall_appointments" in str(refused)

    incident = await summary_of(client, eid)
    assert incident.wait is not None and incident.wait.deadline is not None
    await skip_to(time_env, incident.wait.deadline)
    [claim] = await inbox.wait_for(f"{eid}-CLAIM", 1)
    to, cc = addressed(claim)
    assert to == TRUST_L1 and {ICB_L1, OFFICER} <= cc
    for ods in [late, *silent]:
        subjects = [str(m["Subject"]) for m in inbox.for_case(f"{eid}-{ods}")]
        assert sum("Reminder" in s for s in subjects) == 3, subjects  # 5 and 2 working days before, and on the day
    assert not any("Reminder" in str(m["Subject"]) for m in inbox.for_case(f"{eid}-{on_time[5]}"))

    outcome = await acting.respond(client, f"{eid}-{late}", practice(late, counts=counts(3)))
    assert "flagged late" in outcome.message
    with pytest.raises(Refused, match="the return you sent in time stands"):  # its claim is made from that one
        await acting.respond(client, f"{eid}-{on_time[0]}", practice(on_time[0], counts=counts(99)))
    view = await summary_of(client, eid)
    claimed = view.case_as(PathologyCase).claimed
    assert late not in claimed and len(claimed) == 30
    assert claimed[on_time[0]] == value(50) and claimed[on_time[7]] == value(7)
    total = sum(claimed.values())

    claim_id = f"{eid}-CLAIM"
    payer = {"actor_email": TRUST_L1, "actor_role": Role.PAYER}
    await acting.respond(client, claim_id, ResponseInput(action="acknowledge", **payer))
    offer = total * 3 // 4
    await acting.respond(
        client,
        claim_id,
        ResponseInput(action="accept_part", amount_pence=offer, reasons="Admin time not accepted", **payer),
    )
    await acting.respond(
        client, claim_id, ResponseInput(action="accept_offer", actor_email=OFFICER, actor_role=Role.OFFICER)
    )
    for ods in on_time:
        await inbox.wait_for(f"{eid}-{ods}", 2)
    view = await summary_of(client, eid)
    shares = view.case_as(PathologyCase).shares
    assert sum(shares.values()) == offer
    assert all(abs(shares[o] * total - offer * claimed[o]) < total for o in on_time)

    # The trust confirms its report; half the practices confirm receipt, the rest are chased.
    await acting.respond(
        client,
        f"{eid}-INCIDENT-REPORT",
        ResponseInput(action="confirm", text="https://imperial.example/uacr-report", **payer),
    )
    for ods in on_time[:15]:
        await acting.respond(client, f"{eid}-{ods}", practice(ods, action="confirm_receipt"))
    due = (await summary_of(client, f"{eid}-{on_time[20]}")).wait
    assert due is not None and due.deadline is not None
    await skip_to(time_env, due.deadline)
    chased_mail = await inbox.wait_for(f"{eid}-{on_time[20]}", 4)
    chased = [str(m["Subject"]) for m in chased_mail]
    # Its cohort sent the first before the practice knew its Message-ID: the rest still reply to it, one thread.
    assert all(m["In-Reply-To"] == chased_mail[0]["Message-ID"] for m in chased_mail[1:]), [
        (m["Message-ID"], m["In-Reply-To"], m["Subject"]) for m in chased_mail
    ]
    assert any("Has your payment arrived" in s for s in chased) and any("payment overdue" in s for s in chased)
    for ods in on_time[15:]:
        await acting.respond(client, f"{eid}-{ods}", practice(ods, action="confirm_receipt"))

    # Practices are settled, but the ICB has not answered on year-end: the incident stays open.
    view = await settled_view(client, eid, lambda v: v.case_as(PathologyCase).practices_settled)
    assert view.outcome is None
    year_end_wait = (await summary_of(client, f"{eid}-YEAR-END")).wait
    assert year_end_wait is not None and year_end_wait.deadline is not None
    await skip_to(time_env, year_end_wait.deadline)  # the reconciliation date passes: reminder
    reminded = (await inbox.wait_for(f"{eid}-YEAR-END", 2))[-1]
    assert "Reminder" in str(reminded["Subject"]) and addressed(reminded)[0] == ICB_L1
    icb = {"actor_email": ICB_L1, "actor_role": Role.PAYER}
    await acting.respond(
        client, f"{eid}-YEAR-END", ResponseInput(action="refuse", reasons="No mechanism this year", **icb)
    )
    # The refusal waits for the officer's next step (issue #14): here, to accept it.
    asked = await summary_of(client, f"{eid}-YEAR-END")
    assert asked.status == "refused" and "accept_refusal" in asked.officer_actions
    await acting.respond(
        client,
        f"{eid}-YEAR-END",
        ResponseInput(action="accept_refusal", actor_email=OFFICER, actor_role=Role.OFFICER, reasons="Noted"),
    )
    final = await client.get_workflow_handle_for(PathologyWorkflow.run, eid).result()
    assert final.outcome == "settled"
    events = [r.event for r in AuditLog(make_engine(settings.database)).timeline(eid)]
    assert {"returns_collected", "shares_allocated", "practices_settled", "closed"} <= set(events)
    await replay_and_maybe_record(client, eid, "pathology_detached")
    await replay_and_maybe_record(client, claim_id, "compensation_claim_reports_to_parent")
    # A practice's opening steps are carried out by its cohort, twenty practices to a local activity (issue #16):
    # the practice starts already opened, its first task only arming its deadline. Its reminders are local
    # activities (markers in its history); what follows a response runs as activities, so the person's page is
    # not held behind them. Every audit row and email is there once.
    corrected = f"{eid}-{on_time[0]}"
    history = await client.get_workflow_handle(corrected).fetch_history()
    opening = [EventType.Name(e.event_type) for e in history.events[:5]]
    assert opening == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_TIMER_STARTED",
    ], opening
    cohort_events = (await client.get_workflow_handle(f"{eid}-C01").fetch_history()).events
    openings = [e for e in cohort_events if e.marker_recorded_event_attributes.marker_name == "core_local_activity"]
    assert len(openings) == -(-len(codes) // START_BATCH), openings  # one per batch of practices
    # Its cohort started it with the search attributes its opened case publishes: no upsert at the opening.
    assert "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES" not in opening, opening
    started = (await client.get_workflow_handle(f"{eid}-{silent[0]}").fetch_history()).events[0]
    attributes = decode_typed_search_attributes(started.workflow_execution_started_event_attributes.search_attributes)
    assert attributes.get(sa.KIND) == "practice_return" and attributes.get(sa.PRACTICES) == [silent[0]]
    assert attributes.get(sa.PAYER) == view.header.payer.code
    # What follows each answer (its audit row, the stored return; for the late one the officer's email too) is
    # one ordinary activity: not local, which would hold the person's page, and not a task round trip apiece.
    assert scheduled_activities(history) == ["carry_out_steps"] * 3  # return, correction, receipt confirmed
    late_history = await client.get_workflow_handle(f"{eid}-{late}").fetch_history()
    assert scheduled_activities(late_history) == ["carry_out_steps"]
    late_rows = [r.event for r in AuditLog(make_engine(settings.database)).timeline(f"{eid}-{late}")]
    answered = late_rows.index("response:submit_return")
    assert late_rows[answered : answered + 2] == ["response:submit_return", "email_sent"], late_rows
    rows = AuditLog(make_engine(settings.database)).timeline(corrected)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    sent = [r.detail["message_id"] for r in rows if r.event == "email_sent"]
    assert len(sent) == len(set(sent)) == len(inbox.for_case(corrected))
    await replay_and_maybe_record(client, corrected, "practice_return_opened_by_cohort")
    await replay_and_maybe_record(client, f"{eid}-C01", "practice_cohort_opens_practices")
    # Closing returns and the shares reached 40 practices by relay activities (issue #19): the
    # cohort signalled none of them itself, so a message costs it a few events, not two per practice.
    for workflow_id in (eid, f"{eid}-C01"):
        relayed_in = (await client.get_workflow_handle(workflow_id).fetch_history()).events
        relayed = [
            e for e in relayed_in if e.activity_task_scheduled_event_attributes.activity_type.name == "relay_signal"
        ]
        assert len(relayed) >= 2, workflow_id
    cohort = Counter(EventType.Name(e.event_type) for e in relayed_in)
    # Only up, to the incident: its practices started, their returns closed, and all of them settled.
    assert cohort["EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED"] <= 3, cohort


def scheduled_activities(history: WorkflowHistory) -> list[str]:
    """The ordinary activities a history scheduled, by name, in order."""
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_a_silent_trust_stalls_and_the_icb_is_told(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    data = json.loads(EXAMPLE.read_text())
    eid, codes = await start_example(client, settings, practices=data["practices"][:3])
    await inbox.wait_for(eid, 5, family=True)
    for n, ods in enumerate(codes):
        await acting.respond(client, f"{eid}-{ods}", practice(ods, counts=counts(n)))
    await acting.respond(
        client, eid, ResponseInput(action="close_returns", actor_email=OFFICER, actor_role=Role.OFFICER)
    )
    claim_id = f"{eid}-CLAIM"
    await inbox.wait_for(claim_id, 1)
    while (wait := (await summary_of(client, claim_id)).wait) and wait.deadline:
        await skip_to(time_env, wait.deadline)
    stalled = await summary_of(client, claim_id)
    assert stalled.stalled and stalled.ladder_level == 3
    told = [m for m in inbox.for_case(claim_id) if addressed(m)[0] == ICB_L1]
    assert told and "has not responded" in str(told[0]["Subject"])
    escalated = [m for m in inbox.for_case(claim_id) if addressed(m)[0] == TRUST_L2]
    assert escalated, "the Medical Director was written to"
    outcome = await acting.respond(
        client,
        eid,
        ResponseInput(
            action="close_incident", actor_email=OFFICER, actor_role=Role.OFFICER, reasons="To the liaison meeting"
        ),
    )
    assert "year-end reconciliation" in outcome.message and "compensation claim" in outcome.message
    final = await client.get_workflow_handle_for(PathologyWorkflow.run, eid).result()
    assert final.outcome == "closed_by_officer"
    await assert_histories_scale(client, eid, practices=len(codes))


HISTORY_WARNING = 10_240  # Temporal warns at this many events (and fails a run at 51,200)
ENGLAND = 6_300


async def assert_histories_scale(client: Client, eid: str, practices: int) -> None:
    """Project the incident's and a cohort's history to every practice in England."""
    incident = len((await client.get_workflow_handle(eid).fetch_history()).events)
    cohort = len((await client.get_workflow_handle(f"{eid}-C01").fetch_history()).events)
    cohort_fixed = 12  # start, completion and a few workflow tasks, whatever the size
    per_practice = (cohort - cohort_fixed) / practices
    assert cohort_fixed + per_practice * COHORT_SIZE < HISTORY_WARNING / 2, (cohort, per_practice)
    cohorts_in_england = -(-ENGLAND // COHORT_SIZE)
    per_cohort_in_incident = 8  # started, signals to it, completion
    assert incident + per_cohort_in_incident * cohorts_in_england < HISTORY_WARNING / 2, incident
