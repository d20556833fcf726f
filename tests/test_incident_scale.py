"""An incident of any size keeps every Temporal payload small: its practice list is stored once, outside
Temporal, and its workflows carry references and counts (issue #19)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from domain.incident import ListedReturn, MissingReturns
from domain.pathology import PathologyCase
from domain.responses import ResponseInput
from kinds import incident_list
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.incident_practices import IncidentPractices
from service import acting, incident_lists, starting
from service.refusals import Refused
from settings import ROOT, Settings
from tests.conftest import Inbox
from tests.domain.test_pathology_machine import paying
from tests.helpers import PATHOLOGY
from worker import build_worker
from workflows.incident_workflow import FanOut
from workflows.pathology import PathologyWorkflow, StartPathology
from workflows.practice_cohort import COHORT_SIZE, PRACTICE_TASK_TIMEOUT

LIMIT = 256 * 1024
_PAYLOAD = "temporal.api.common.v1.Payload"


def incident_data(count: int) -> dict[str, Any]:
    """The NWL uACR example with `count` made-up practices in place of its own."""
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    data["practices"] = [
        {
            "ods": f"Y{i:05d}",
            "name": f"Scale Test Practice {i}",
            "contact_name": "Practice Manager",
            "contact_email": f"pm.y{i:05d}@scale.example",
        }
        for i in range(1, count + 1)
    ]
    return data


def payloads(message: Message) -> list[int]:
    """The size of each Payload inside `message` (inputs, results, signal and update arguments, headers)."""
    if message.DESCRIPTOR.full_name == _PAYLOAD:
        return [message.ByteSize()]
    sizes: list[int] = []
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            if descriptor.message_type.fields_by_name["value"].message_type is not None:
                sizes += [s for v in value.values() for s in payloads(v)]
        elif descriptor.is_repeated:
            sizes += [s for v in value for s in payloads(v)]
        else:
            sizes += payloads(value)
    return sizes


async def largest_payload(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return max(size for event in history.events for size in payloads(event))


async def started_children(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)


async def test_an_incident_of_20000_practices_keeps_every_payload_under_256_kb(
    dev_env: WorkflowEnvironment, settings: Settings, inbox: Inbox
) -> None:
    """Started for real; the test stops once the first cohort has started its practices (the rest of the
    fan-out is the same shape again, and `make bench` runs one through)."""
    client = dev_env.client
    local = settings.model_copy(update={"task_queue": f"scale-{uuid.uuid4().hex[:8]}"})
    data = incident_data(20_000)
    eid = f"PEC-SCALE-{uuid.uuid4().hex[:6].upper()}"
    prepared = starting.prepare(PATHOLOGY, local.escalation_config(), data, eid)
    prepared = prepared.model_copy(update={"cohorts_at_once": 1})  # the next cohort waits for the first
    async with build_worker(client, local):
        await starting.start(client, local, PATHOLOGY, prepared)
        first_cohort = f"{eid}-C01"
        deadline = time.monotonic() + 120
        while await _started(client, first_cohort) < COHORT_SIZE:
            assert time.monotonic() < deadline, "the first cohort did not start its practices in two minutes"
            await asyncio.sleep(0.5)
        summary = await client.get_workflow_handle(eid).query("summary")
        audit = AuditLog(make_engine(local.database))
        await acting.stop(client, audit, eid, "ops@lmc.example", "Test: the first cohort is all it needs", cancel=False)
        assert (await client.get_workflow_handle(first_cohort).describe()).status == WorkflowExecutionStatus.TERMINATED

    assert IncidentPractices(make_engine(local.database)).count(eid) == 20_000
    assert len(json.dumps(summary)) < LIMIT  # the query result too
    incident, cohort = await largest_payload(client, eid), await largest_payload(client, first_cohort)
    print(f"largest payload: incident {incident:,} bytes, first cohort {cohort:,} bytes")
    assert 0 < incident < LIMIT, f"the incident's largest payload is {incident:,} bytes"
    assert 0 < cohort < LIMIT, f"the first cohort's largest payload is {cohort:,} bytes"
    # Not just under the limit: a few kilobytes, whatever the incident's size.
    assert max(incident, cohort) < 32 * 1024, (incident, cohort)
    practice = await client.get_workflow_handle(f"{eid}-Y00001").fetch_history()
    started = practice.events[0].workflow_execution_started_event_attributes
    assert started.workflow_task_timeout.ToSeconds() == PRACTICE_TASK_TIMEOUT.total_seconds()  # not Temporal's 10 s


def test_an_incident_of_20000_practices_continues_as_new_with_an_input_under_256_kb() -> None:
    """What a run carries into the next (`IncidentWorkflow.carry_over`): the case without its 20,000 claims and
    shares (stored outside, `before_continuing`), and its cohorts' bookkeeping, a few bytes a cohort."""
    case = paying()
    case.practices, case.practices_stored, case.practice_count = [], True, 20_000
    case.claimed = {f"Y{n:05d}": 1_000_000 + n for n in range(20_000)}
    case.shares = {ods: pence // 2 for ods, pence in case.claimed.items()}
    run = PathologyWorkflow.__new__(PathologyWorkflow)  # its state, not a run: carry_over asks nothing of Temporal
    run.init_children()
    start = starting.prepare(PATHOLOGY, Settings(_env_file=None).escalation_config(), incident_data(2), "PEC-SCALE-CAN")  # type: ignore[call-arg]
    run.begin(start.model_copy(update={"practices": [], "practice_count": 20_000}), case, None, [])
    cohorts = [f"PEC-SCALE-CAN-C{n:03d}" for n in range(1, 201)]
    run._fan_out = FanOut(
        detached=True, cohort_total=200, started_all=True, cohorts_closed=cohorts, cohorts_settled=cohorts,
        outcomes={"paid": 19_000, "nothing_due": 1_000}, tallies_stored=True,
    )  # fmt: skip
    carried = pydantic_data_converter.payload_converter.to_payloads([run.carry_over()])[0]
    print(f"carried into the next run: {carried.ByteSize():,} bytes")
    assert carried.ByteSize() < 32 * 1024, carried.ByteSize()
    assert len(case.claimed) == 20_000  # the running case keeps them until the run ends


async def _started(client: Client, workflow_id: str) -> int:
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except Exception:  # not started yet
        return 0
    if described.status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
        return 0
    return await started_children(client, workflow_id)


def test_an_incident_over_the_configured_maximum_is_refused_at_start_naming_the_field(settings: Settings) -> None:
    config = settings.escalation_config()
    maximum = config.incidents.max_practices
    eid = f"PEC-BIG-{uuid.uuid4().hex[:6].upper()}"
    with pytest.raises(Refused) as refused:
        starting.prepare(PATHOLOGY, config, incident_data(maximum + 1), eid)
    assert "practices" in refused.value.fields
    assert f"{maximum:,}" in refused.value.fields["practices"]
    assert IncidentPractices(make_engine(settings.database)).count(eid) == 0  # nothing stored


def test_storing_a_practice_list_again_replaces_it_rather_than_doubling_it(settings: Settings) -> None:
    store = IncidentPractices(make_engine(settings.database))
    eid = f"PEC-LIST-{uuid.uuid4().hex[:6].upper()}"
    rows = [{"ods": f"X{i:05d}", "name": f"P{i}"} for i in range(250)]
    store.store(eid, rows)
    store.store(eid, rows)  # a retried start
    assert store.count(eid) == 250
    assert [r["ods"] for r in store.chunk(eid, 200, COHORT_SIZE)] == [f"X{i:05d}" for i in range(200, 250)]


async def test_an_interest_declared_in_a_stored_practice_bars_the_officer_from_the_incident(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings
) -> None:
    """The list is not in the case: the incident looks the declared party up in the store. (On the dev
    server: ended by terminating it, which the time-skipping server's clock would wait on.)"""
    time_client = dev_env.client
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    listed, unlisted = data["practices"][3]["ods"], "Y99999"
    eid = f"PEC-COI-{uuid.uuid4().hex[:6].upper()}"
    await starting.start(
        time_client, settings, PATHOLOGY, starting.prepare(PATHOLOGY, settings.escalation_config(), data, eid)
    )

    def officer(action: str, **fields: Any) -> ResponseInput:
        return ResponseInput(action=action, actor_email="ceo@lmc.example", actor_role=Role.OFFICER, **fields)

    elsewhere = await acting.respond(time_client, eid, officer("declare_interest", text=unlisted, reasons="Partner"))
    assert "party to this escalation" not in elsewhere.message
    involved = await acting.respond(time_client, eid, officer("declare_interest", text=listed, reasons="Partner"))
    assert "It is a party to this escalation" in involved.message
    with pytest.raises(Refused) as refused:
        await acting.respond(time_client, eid, officer("close_returns"))
    assert listed in str(refused.value)
    await time_client.get_workflow_handle(eid).terminate("test over")


def test_the_console_reads_a_stored_list_a_page_at_a_time(settings: Settings) -> None:
    data = incident_data(150)
    eid = f"PEC-READ-{uuid.uuid4().hex[:6].upper()}"
    prepared = starting.store_practice_list(
        settings, PATHOLOGY, starting.prepare(PATHOLOGY, settings.escalation_config(), data, eid)
    )
    assert prepared.practice_count == 150 and not prepared.practices  # type: ignore[attr-defined]
    page = incident_lists.practices_of(settings, eid, offset=100, limit=100)
    assert [p.ods for p in page] == [p["ods"] for p in data["practices"][100:]]
    assert incident_lists.practices_of(settings, "PEC-2026-NOSUCH") == []


@given(
    returns=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 9), st.booleans()),
        min_size=0,
        max_size=60,
        unique_by=lambda r: r[0],
    ),
    page=st.integers(1, 25),
)
@settings_(max_examples=40, deadline=None)
def test_returns_tallied_a_page_at_a_time_price_as_they_would_all_at_once(
    returns: list[tuple[int, int, bool]], page: int
) -> None:
    config = Settings(_env_file=None).escalation_config()  # type: ignore[call-arg]
    data = incident_data(41)
    start = starting.prepare(PATHOLOGY, config, data, "PEC-2026-TALLYA")
    _, slim = incident_list.split(start)
    now = datetime(2026, 6, 1, 9, tzinfo=UTC)

    def case(stored: bool) -> PathologyCase:
        listed = StartPathology.model_validate(slim if stored else start)
        opened, _ = PathologyCase.open(
            listed.escalation_id,
            listed.request,
            listed.practices,
            listed.lmc,
            listed.officer,
            listed.trust,
            listed.icb,
            listed.policy,
            now,
            listed.rules,
            stored=(41, []) if stored else None,
        )
        return opened

    records = [
        ListedReturn(ods=f"Y{n + 1:05d}", counts={"patients_reviewed": k, "repeat_tests": 2 * k}, late=late, position=n)
        for n, k, late in returns
    ]
    whole, paged = case(stored=False), case(stored=True)
    whole.on_returns_loaded(list(records), now)
    for i in range(0, len(records), page):
        paged.tally_returns(list(records[i : i + page]))
    returned = {r.ods for r in records}
    missing = sorted(p["ods"] for p in data["practices"] if p["ods"] not in returned)
    paged.on_returns_tallied(now, MissingReturns(count=len(missing), first=missing[:50]))
    assert (paged.claimed, paged.late_returns, paged.item_totals) == (
        whole.claimed,
        whole.late_returns,
        whole.item_totals,
    )
    assert paged.total_claimed == whole.total_claimed
