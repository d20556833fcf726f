"""Replay never changes with the calendar (issue #18). The calendar a workflow counts over comes into its
history (its start input, or a `change_calendar` update), never from what is installed: a history recorded
before a holiday was added replays, with a calendar holding that holiday installed, to the same deadlines
it ran with, and without non-determinism. `unfunded_claim_calendar_changed` records the new shape: a
claim started with the installed calendar, told of an announced holiday that moved its deadline."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle

from activities.audit import AuditEntry
from domain.calendar import LEGACY_CALENDAR, calendar_of_case
from domain.contacts import Role
from domain.responses import ResponseInput
from domain.working_days import add_working_days, london_date, next_working_day
from persistence.calendars import Calendars
from persistence.database import make_engine
from service import acting, calendar_admin, starting
from settings import ROOT, Settings
from tests.conftest import Inbox
from tests.helpers import (
    CLAIM,
    OFFICER,
    PATHOLOGY,
    example_data,
    officer,
    payer,
    skip_past_deadline,
    summary_of,
    working_day_after,
)
from tests.test_replay import HISTORIES, replay_and_maybe_record
from worker import WORKFLOWS
from workflows.pathology import StartPathology
from workflows.unfunded_claim import StartClaim

DEADLINE_EVENTS = ("deadline_missed", "deadline_moved")
_replayed: list[AuditEntry] = []


class _Outbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
        _replayed.extend(a for a in input.args if isinstance(a, AuditEntry))
        return super().start_activity(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class AuditOnReplay(Interceptor):
    """Keeps the audit entries a replayed workflow asks to record: what it decided, deadlines included."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _Inbound


def recorded_deadlines(history_json: str) -> list[tuple[str, dict[str, Any]]]:
    """The deadline events (and their details) the run recorded, from its scheduled audit activities."""
    found = []
    for event in json.loads(history_json)["events"]:
        scheduled = event.get("activityTaskScheduledEventAttributes")
        if not scheduled:
            continue
        for payload in scheduled.get("input", {}).get("payloads", []):
            arg = json.loads(base64.b64decode(payload["data"]))
            if isinstance(arg, dict) and arg.get("event") in DEADLINE_EVENTS:
                found.append((arg["event"], arg["detail"]))
    return found


async def replayed_deadlines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    _replayed.clear()
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        interceptors=[AuditOnReplay()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))
    return [(e.event, e.detail) for e in _replayed if e.event in DEADLINE_EVENTS]


async def test_histories_replay_to_the_deadlines_they_ran_with_whatever_calendar_is_installed(
    tmp_path: Path,
) -> None:
    before = HISTORIES / "unfunded_claim_complete.json"  # recorded before calendars travelled: no calendar in it
    recorded = recorded_deadlines(before.read_text())
    assert recorded, "the history has missed deadlines to compare"
    # Install a calendar on which each recorded deadline day is a bank holiday: a worker that read the installed
    # calendar would count every one of these deadlines differently.
    calendars = Calendars(make_engine(f"sqlite:///{tmp_path}/calendar.db"))
    for _, detail in recorded:
        day = london_date(datetime.fromisoformat(detail["deadline"]))
        if not calendars.current().working().is_holiday(day) and day.weekday() < 5:
            calendars.add_holiday(day, "Announced after the run", "ops@lmc.example", datetime.now(UTC))
    installed = calendars.current().working()
    first = datetime.fromisoformat(recorded[0][1]["deadline"])
    eve = first - timedelta(days=1)
    assert add_working_days(LEGACY_CALENDAR, eve, 1) == first != add_working_days(installed, eve, 1)
    assert await replayed_deadlines(before) == recorded

    with_change = HISTORIES / "unfunded_claim_calendar_changed.json"  # the new shape: a calendar and an update
    moved = recorded_deadlines(with_change.read_text())
    assert [event for event, _ in moved][:2] == ["deadline_moved", "deadline_missed"]
    assert await replayed_deadlines(with_change) == moved


async def test_a_claim_told_of_a_new_holiday_replays_and_can_be_recorded(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    """Started with the installed calendar; a holiday announced inside its acknowledgement window moves the
    deadline (audited, emailed); the reminder comes on the moved deadline; then acknowledged and withdrawn."""
    engine = make_engine(f"sqlite:///{tmp_path}/calendar.db")
    now = await time_env.get_current_time()
    config = settings.escalation_config().model_copy(
        update={"calendar": calendar_admin.working_calendar(engine, london_date(now))}
    )
    data = example_data(title="Recorded claim told of a new bank holiday")
    start = starting.prepare(CLAIM, config, data, f"UWC-CAL-{uuid.uuid4().hex[:8].upper()}")
    assert isinstance(start, StartClaim) and not start.calendar.is_legacy
    eid = await starting.start(time_client, settings, CLAIM, start)
    await inbox.wait_for(eid, 1)
    first = await summary_of(time_client, eid)
    assert first.wait is not None and first.wait.deadline is not None
    calendar = calendar_of_case(first.case)
    holiday = next_working_day(calendar, london_date(now) + timedelta(days=1))

    calendars = Calendars(engine)
    before = calendars.current()
    after = calendars.add_holiday(holiday, "Bank holiday for a national occasion", "ops@lmc.example", now)
    told = await calendar_admin.tell(time_client, [eid], before, after, True, "ops@lmc.example")
    assert told.told == 1 and len(told.moved) == 1, told
    moved = await summary_of(time_client, eid)
    assert moved.wait is not None and moved.wait.deadline is not None
    assert datetime.fromisoformat(moved.wait.deadline) > datetime.fromisoformat(first.wait.deadline)
    again = await calendar_admin.tell(time_client, [eid], before, after, True, "ops@lmc.example")
    assert again.moved == told.moved, "told twice, it answers as it did the first time"
    assert (await summary_of(time_client, eid)).wait == moved.wait, "and moves nothing twice"

    await skip_past_deadline(time_env, eid)  # the reminder, on the moved deadline
    await acting.respond(time_client, eid, payer("acknowledge"))
    await acting.respond(time_client, eid, officer("withdraw", reasons="Recorded scenario complete"))
    await time_client.get_workflow_handle(eid).result()
    await replay_and_maybe_record(time_client, eid, "unfunded_claim_calendar_changed")


async def test_an_incident_passes_its_calendar_to_every_part_and_each_part_is_told(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/calendar.db")
    now = await time_env.get_current_time()
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    data["practices"] = data["practices"][:3]
    data["year_end_reconciliation_date"] = working_day_after(now, 150)
    config = settings.escalation_config().model_copy(
        update={"calendar": calendar_admin.working_calendar(engine, london_date(now))}
    )
    eid = f"PEC-CAL-{uuid.uuid4().hex[:8].upper()}"
    start = starting.prepare(PATHOLOGY, config, data, eid)
    assert isinstance(start, StartPathology) and not start.calendar.is_legacy
    await starting.start(time_client, settings, PATHOLOGY, start)
    await inbox.wait_for(eid, 5, family=True)  # three return requests, the ICB's year-end and the trust's report
    parts = [f"{eid}-{p['ods']}" for p in data["practices"]] + [f"{eid}-YEAR-END", f"{eid}-INCIDENT-REPORT"]
    for case_id in [eid, *parts]:
        view = await summary_of(time_client, case_id)
        assert calendar_of_case(view.case) == start.calendar, case_id

    calendars = Calendars(engine)
    before = calendars.current()
    before_returns = (await summary_of(time_client, eid)).case["returns_deadline"]
    report = await summary_of(time_client, f"{eid}-INCIDENT-REPORT")
    assert report.wait is not None and report.wait.deadline is not None
    holiday = next_working_day(start.calendar, london_date(now) + timedelta(days=1))
    after = calendars.add_holiday(holiday, "Bank holiday for a national occasion", "ops@lmc.example", now)
    told = await calendar_admin.tell(time_client, [eid, *parts], before, after, True, "ops@lmc.example")
    assert told.told == 1 + len(parts) and not told.not_told, told
    assert any(f"{eid}-INCIDENT-REPORT" in line for line in told.moved), told.moved
    for case_id in [eid, *parts]:
        assert calendar_of_case((await summary_of(time_client, case_id)).case).is_holiday(holiday), case_id
    moved = await summary_of(time_client, f"{eid}-INCIDENT-REPORT")
    assert moved.wait is not None and moved.wait.deadline is not None
    assert datetime.fromisoformat(moved.wait.deadline) > datetime.fromisoformat(report.wait.deadline)
    # The return deadline was counted in working days (none was given): it moves on, and every practice is told.
    returns_before = datetime.fromisoformat(str(before_returns))
    incident = await summary_of(time_client, eid)
    returns_after = datetime.fromisoformat(incident.case["returns_deadline"])
    assert returns_after > returns_before and any(f"{eid}: return deadline moved" in line for line in told.moved)
    await inbox.wait_for(eid, 5 + 1 + len(data["practices"]), family=True)  # the report's new date, each practice's
    for ods in (p["ods"] for p in data["practices"]):
        practice = await summary_of(time_client, f"{eid}-{ods}")
        assert datetime.fromisoformat(practice.case["returns_deadline"]) == returns_after, ods
    await acting.respond(
        time_client,
        eid,
        ResponseInput(action="close_incident", actor_email=OFFICER, actor_role=Role.OFFICER, reasons="Done"),
    )
