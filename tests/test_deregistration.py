"""Pathfinder deregistration redistribution: loss arithmetic, and the whole flow on the
time-skipping server with real SMTP and audit."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.calendar import LEGACY_CALENDAR
from domain.contacts import Role
from domain.deregistration import DeregistrationCase, capitation_loss
from domain.responses import DeregisteredGroup, ResponseInput
from domain.working_days import next_working_day
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from service import acting, starting
from service.refusals import Refused
from settings import ROOT, Settings
from tests.conftest import Inbox, body_text
from tests.helpers import DEREGISTRATION, settled_view, summary_of
from tests.test_replay import replay_and_maybe_record
from workflows.deregistration import DeregistrationWorkflow

EXAMPLE = ROOT / "examples" / "deregistration_nwl_pathfinder.json"
ICB_L1 = "pc.commissioning@nwlicb.example"
RATE_2024 = 11250


def group(patients: int, days: int | None = None, since: date | None = None) -> DeregisteredGroup:
    if since is not None:
        return DeregisteredGroup(patients=patients, still_off=True, off_since=since)
    return DeregisteredGroup(patients=patients, days_off=days)


@pytest.mark.parametrize(
    ("groups", "weighting", "rate", "pence"),
    [
        ([group(20, 30)], "1.0", RATE_2024, 18493),  # 20 x 11250 x 30 / 365 = 18493.15
        ([group(20, 30), group(5, 10)], "1.0", RATE_2024, 20034),  # (600 + 50) x 11250 / 365 = 20034.25
        # Still off since 1 January to the 31 March cut-off, both days counted (DOMAIN.md 'Days off a list'):
        # 90 days, 7 x 1.05 x 11250 x 90 / 365 = 20388.70 (the old count left the cut-off out: 89 days, 20162)
        ([group(7, since=date(2025, 1, 1))], "1.05", RATE_2024, 20389),
        ([group(1, 1)], "0.5", 365, 1),  # exactly half a penny rounds up
        ([group(3, 365)], "1.0", 12190, 36570),  # a whole year at the 2025/26 rate
    ],
)
def test_capitation_loss_matches_hand_worked_figures(
    groups: list[DeregisteredGroup], weighting: str, rate: int, pence: int
) -> None:
    assert capitation_loss(groups, Decimal(weighting), rate, date(2025, 3, 31)) == pence


def practice_reply(ods: str, action: str = "submit_return", **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=f"pm.{ods.lower()}@nhs.example", actor_role=Role.PRACTICE, **fields)


async def start_example(client: Client, settings: Settings) -> tuple[str, list[str]]:
    data = json.loads(EXAMPLE.read_text())
    eid = f"PDR-TEST-{uuid.uuid4().hex[:8].upper()}"
    start = starting.prepare(DEREGISTRATION, settings.escalation_config(), data, eid)
    await starting.start(client, settings, DEREGISTRATION, start)
    return eid, [p["ods"] for p in data["practices"]]


async def payment_date(env: WorkflowEnvironment, days: int = 30) -> date:
    """A working day ahead of the test server's clock (which earlier tests move on): a payment date
    must be a working day and not in the past."""
    return next_working_day(LEGACY_CALENDAR, (await env.get_current_time()).date() + timedelta(days=days))


async def skip_to(env: WorkflowEnvironment, instant: datetime) -> None:
    await env.sleep(instant - await env.get_current_time() + timedelta(minutes=1))


async def test_deregistration_from_message_to_every_practice_paid(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    eid, codes = await start_example(client, settings)
    await inbox.wait_for(eid, 13, family=True)  # 12 return requests and the ICB message request
    [asked] = inbox.for_case(f"{eid}-E85011")  # its weighting, read back from the stored list, to check its share by
    assert "Your list weighting: 1.05" in body_text(asked) and "£112.50 per weighted patient" in body_text(asked)
    [plain] = inbox.for_case(f"{eid}-E85012")
    assert "Your list weighting: 1\n" in body_text(plain).replace("\r\n", "\n")
    returned, late, silent = codes[:9], codes[9], codes[10:]
    for n, ods in enumerate(returned):
        outcome = await acting.respond(client, f"{eid}-{ods}", practice_reply(ods, groups=[group(10 + n, 30)]))
        assert outcome.status == "returned"
    # A correction replaces the first return.
    await acting.respond(client, f"{eid}-{returned[0]}", practice_reply(returned[0], groups=[group(20, 30)]))
    with pytest.raises(Refused, match="not the contact"):
        await acting.respond(
            client,
            f"{eid}-{late}",
            practice_reply(returned[1], groups=[group(1, 1)]).model_copy(
                update={"actor_email": "pm.e85011@nhs.example"}
            ),
        )

    # The medical secretary declared an interest in Hanwell Surgery (E85013): may view, not act.
    conflicted = ResponseInput(action="close_returns", actor_email="medsec@lmc.example", actor_role=Role.OFFICER)
    with pytest.raises(Refused, match="declared an interest in E85013"):
        await acting.respond(client, eid, conflicted)
    assert (await summary_of(client, eid)).case_as(DeregistrationCase).returns_open is True
    incident = await summary_of(client, eid)
    assert incident.wait is not None and incident.wait.deadline is not None
    await skip_to(time_env, datetime.fromisoformat(incident.wait.deadline))
    pot_request = await inbox.wait_for(f"{eid}-POT", 1)
    assert pot_request[0]["To"].addresses[0].addr_spec == ICB_L1
    for ods in [late, *silent]:
        reminders = [m for m in inbox.for_case(f"{eid}-{ods}") if "Reminder" in str(m["Subject"])]
        assert len(reminders) == 3, (ods, [str(m["Subject"]) for m in reminders])
    assert not [m for m in inbox.for_case(f"{eid}-{returned[2]}") if "Reminder" in str(m["Subject"])]

    outcome = await acting.respond(client, f"{eid}-{late}", practice_reply(late, groups=[group(4, 15)]))
    assert "flagged late" in outcome.message
    view = await summary_of(client, eid)
    claimed = view.case_as(DeregistrationCase).claimed
    assert set(claimed) == set(returned)  # the late return is recorded, not in the schedule
    assert claimed[returned[0]] == 19418  # the correction: 20 x 1.05 x 11250 x 30 / 365 = 19417.81
    assert claimed[returned[1]] == 10171  # 11 x 1.0 x 11250 x 30 / 365 = 10171.23
    total = sum(claimed.values())

    # The incident's parties reach its payer requests: the conflicted officer cannot withdraw the pot request.
    barred = ResponseInput(action="withdraw", actor_email="medsec@lmc.example", actor_role=Role.OFFICER, reasons="x")
    with pytest.raises(Refused, match="E85013"):
        await acting.respond(client, f"{eid}-POT", barred)
    # The ICB confirms a pot smaller than the total, with a payment date.
    pot = total - 1001
    confirm = ResponseInput(
        action="confirm",
        actor_email=ICB_L1,
        actor_role=Role.PAYER,
        amount_pence=pot,
        on_date=await payment_date(time_env),
    )
    await acting.respond(client, f"{eid}-POT", confirm)
    for ods in returned:
        await inbox.wait_for(f"{eid}-{ods}", 2)
    view = await summary_of(client, eid)
    shares = view.case_as(DeregistrationCase).shares
    assert sum(shares.values()) == pot
    for ods in returned:
        assert abs(shares[ods] * total - pot * claimed[ods]) < total
        await acting.respond(client, f"{eid}-{ods}", practice_reply(ods, action="confirm_receipt"))

    # The ICB never confirms its message: reminders, the ladder, then stalled; the incident waits.
    message_id = f"{eid}-ICB-MESSAGE"
    while (waiting := (await summary_of(client, message_id)).wait) and waiting.deadline:
        await skip_to(time_env, datetime.fromisoformat(waiting.deadline))
    stalled = await summary_of(client, message_id)
    assert stalled.stalled and stalled.ladder_level == 3
    view = await settled_view(client, eid, lambda v: v.case_as(DeregistrationCase).practices_settled)
    assert view.outcome is None

    outcome = await acting.respond(
        client,
        eid,
        ResponseInput(
            action="close_incident",
            actor_email="ceo@lmc.example",
            actor_role=Role.OFFICER,
            reasons="Practices paid; the ICB's message is on the liaison agenda",
        ),
    )
    assert "ICB message to practices" in outcome.message
    final = await client.get_workflow_handle_for(DeregistrationWorkflow.run, eid).result()
    assert final.outcome == "closed_by_officer"
    events = [r.event for r in AuditLog(make_engine(settings.database)).timeline(eid)]
    assert {"returns_collected", "shares_allocated", "practices_settled", "closed"} <= set(events)
    assert "refused:conflict_of_interest" in events
    await replay_and_maybe_record(client, eid, "deregistration_detached")
    await replay_and_maybe_record(client, f"{eid}-{returned[0]}", "practice_return_corrected_and_paid")
    await replay_and_maybe_record(client, f"{eid}-POT", "confirmation_reports_to_parent")
    await replay_and_maybe_record(client, f"{eid}-C01", "practice_cohort_chunk_reports_by_signal")


async def test_a_pot_larger_than_the_loss_pays_claims_and_reports_the_surplus(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    client = time_client
    eid, codes = await start_example(client, settings)
    await inbox.wait_for(eid, 13, family=True)
    for ods in codes[:3]:
        await acting.respond(client, f"{eid}-{ods}", practice_reply(ods, groups=[group(12, 40)]))
    await acting.respond(
        client, eid, ResponseInput(action="close_returns", actor_email="ceo@lmc.example", actor_role=Role.OFFICER)
    )
    await inbox.wait_for(f"{eid}-POT", 1)
    claimed = (await summary_of(client, eid)).case_as(DeregistrationCase).claimed
    assert claimed[codes[1]] == 14795  # 12 x 11250 x 40 / 365 = 14794.52; codes[0] is weighted 1.05
    confirm = ResponseInput(
        action="confirm",
        actor_email=ICB_L1,
        actor_role=Role.PAYER,
        amount_pence=sum(claimed.values()) + 500_00,
        on_date=await payment_date(time_env, 31),
    )
    await acting.respond(client, f"{eid}-POT", confirm)
    surplus = [m for m in await inbox.wait_for(eid, 2) if "surplus" in str(m["Subject"])]
    assert surplus and "surplus of £500.00" in body_text(surplus[0]).replace("\r\n", " ")
    view = await summary_of(client, eid)
    assert view.case_as(DeregistrationCase).shares == claimed
    for ods in codes[3:]:  # practices that sent nothing are told nothing is due, and close
        final = await client.get_workflow_handle(f"{eid}-{ods}").result()
        assert final["outcome"] == "nothing_due"
    await acting.respond(
        client,
        eid,
        ResponseInput(
            action="close_incident", actor_email="ceo@lmc.example", actor_role=Role.OFFICER, reasons="test over"
        ),
    )
