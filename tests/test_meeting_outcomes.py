"""After the liaison meeting: outcomes and commitments recorded through the form's gate, each
commitment chased as its own escalation: asked of the ICB contact who made it, reminded when it
falls due, then climbing the ladder, like any other request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import LEGACY_CALENDAR
from domain.working_days import next_working_day
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.meetings import Meetings
from persistence.users import Users
from service import meeting_outcomes
from service.refusals import Refused
from settings import Settings
from tests.conftest import Inbox, body_text
from tests.helpers import (
    ICB_L1,
    ICB_L2,
    ICB_L3,
    OFFICER,
    csrf_in,
    last_working_day_by,
    sign_in,
    skip_past_deadline,
    summary_of,
)
from web.app import create_app

ICB = "QKS"


def a_saturday_after(day: date) -> date:
    return day + timedelta(days=(5 - day.weekday()) % 7 or 7)


async def test_a_commitment_is_reminded_when_it_falls_due_then_climbs_the_ladder(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    engine = make_engine(settings.database)
    today = datetime.now(UTC).date()
    server_today = (await time_env.get_current_time()).date()  # ahead of today if other tests skipped time
    due = next_working_day(LEGACY_CALENDAR, max(today, server_today) + timedelta(days=7))
    form = {
        "rows.0.item": "UWC-2026-ABCDEF",
        "rows.0.outcome": "The ICB accepts the principle that practices are paid for this work.",
        "rows.0.commitment": "Send practices the reimbursement process for the six example items",
        "rows.0.contact": ICB_L2,
        "rows.0.due": due.isoformat(),
    }
    submission = uuid.uuid4().hex
    meeting = today

    async def record() -> list[meeting_outcomes.RecordedOutcome]:
        return await meeting_outcomes.record(
            time_client, settings, Meetings(engine), OFFICER, ICB, meeting, submission, form, 1,
            {"UWC-2026-ABCDEF": "Unfunded work moved from the trust"},
        )  # fmt: skip

    [outcome] = await record()
    commitment = outcome.commitment_id
    assert commitment is not None and commitment.startswith(f"LIA-{ICB}-{meeting.isoformat()}-C")
    [asked] = await inbox.wait_for(commitment, 1)
    assert asked["To"].addresses[0].addr_spec == ICB_L2, "asked of the contact who made the commitment"
    text = body_text(asked)
    assert "Send practices the reimbursement process for the six example items" in text
    assert "Unfunded work moved from the trust" in text and "LMC liaison meeting on" in text

    assert await record() == [outcome], "the same form sent again records nothing more"
    view = await summary_of(time_client, commitment)
    assert view.status == "awaiting" and view.ladder_level == 1 and view.header.payer.ladder[0].email == ICB_L2

    await skip_past_deadline(time_env, commitment)
    reminder = (await inbox.wait_for(commitment, 2))[-1]
    assert "Reminder" in str(reminder["Subject"]) and reminder["To"].addresses[0].addr_spec == ICB_L2
    await skip_past_deadline(time_env, commitment)
    escalated = (await inbox.wait_for(commitment, 3))[-1]
    assert "Escalated" in str(escalated["Subject"]) and escalated["To"].addresses[0].addr_spec == ICB_L3
    assert ICB_L1 not in {a.addr_spec for a in escalated["To"].addresses}
    events = [r.event for r in AuditLog(engine).timeline(commitment)]
    assert events[0] == "requested" and events.count("deadline_missed") == 2 and "ladder_climbed" in events


def test_a_commitment_needs_what_who_and_when_each_refused_beside_its_field(settings: Settings) -> None:
    config = settings.escalation_config()
    today = datetime.now(UTC).date()
    held = last_working_day_by(today)
    form = {
        "rows.0.outcome": "Noted.",
        "rows.2.outcome": "The ICB will write to practices.",
        "rows.2.commitment": "Write to practices about fit notes",
        "rows.2.due": a_saturday_after(today).isoformat(),
        "rows.3.outcome": "9434765919",  # an NHS number in free text
    }
    with pytest.raises(Refused) as refused:
        meeting_outcomes.admit_outcomes(config, ICB, form, 4, today, held)
    assert set(refused.value.fields) == {"rows.3.outcome"}, "the gate refuses first, naming the row as posted"
    form["rows.3.outcome"] = "Deferred to the next meeting."
    with pytest.raises(Refused) as refused:
        meeting_outcomes.admit_outcomes(config, ICB, form, 4, today, held)
    fields = refused.value.fields
    assert set(fields) == {"rows.2.contact", "rows.2.due"}
    assert "Saturday" in fields["rows.2.due"] and "next working day" in fields["rows.2.due"]
    form["rows.2.contact"] = "someone@elsewhere.example"
    form["rows.2.due"] = next_working_day(LEGACY_CALENDAR, today + timedelta(days=10)).isoformat()
    with pytest.raises(Refused) as refused:
        meeting_outcomes.admit_outcomes(config, ICB, form, 4, today, held)
    assert set(refused.value.fields) == {"rows.2.contact"} and "is not one of" in refused.value.fields["rows.2.contact"]
    form["rows.2.contact"] = ICB_L1
    rows = meeting_outcomes.admit_outcomes(config, ICB, form, 4, today, held)
    assert [r.commitment for r in rows] == [None, "Write to practices about fit notes", None]
    with pytest.raises(Refused) as refused:
        meeting_outcomes.admit_outcomes(config, ICB, {}, 4, today, held)
    assert "rows.0.outcome" in refused.value.fields


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    Users(make_engine(settings.database)).add(OFFICER, "officer", "a long outcomes password")
    app = create_app(settings, dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_the_form_keeps_what_was_typed_shows_each_error_beside_its_field_then_records(
    web: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    assert (await sign_in(web, OFFICER, "a long outcomes password")).status_code == 303
    meeting = last_working_day_by(datetime.now(UTC).date())  # outcomes are of a meeting that has been held
    page = await web.get("/console/meeting", params={"icb": ICB, "date": meeting.isoformat()})
    assert page.status_code == 200 and 'name="row_count"' in page.text
    saturday = a_saturday_after(meeting)
    form = {
        "csrf": csrf_in(page),
        "submission": uuid.uuid4().hex,
        "icb": ICB,
        "date": meeting.isoformat(),
        "row_count": "3",
        "rows.1.outcome": "The ICB will review the ADHD shared care protocol with GP input.",
        "rows.1.commitment": "Report back on the shared care protocol review",
        "rows.1.contact": ICB_L1,
        "rows.1.due": saturday.isoformat(),
    }
    refused = await web.post("/console/meeting/outcomes", data=form)
    assert refused.status_code == 422
    assert 'id="rows.1.due-error"' in refused.text and "is a Saturday" in refused.text
    summary = refused.text.split('id="error-summary"')[1].split("</div>")[0]
    assert ", by when: The date must be a working day" in summary, summary  # which row's box, as the form says it
    assert "Report back on the shared care protocol review" in refused.text, "what was typed is kept"
    assert f'value="{saturday.isoformat()}"' in refused.text
    form["rows.1.due"] = next_working_day(LEGACY_CALENDAR, saturday).isoformat()
    done = await web.post("/console/meeting/outcomes", data=form)
    assert done.status_code == 303 and "recorded=1" in done.headers["location"]
    shown = await web.get(done.headers["location"])
    [reference] = [
        o.commitment_id
        for o in Meetings(make_engine(settings.database)).outcomes(ICB, meeting)
        if o.commitment == "Report back on the shared care protocol review"
    ]
    assert reference is not None and reference.startswith(f"LIA-{ICB}-{meeting.isoformat()}-C")
    assert reference in shown.text and "Each commitment is now chased" in shown.text
    [asked] = await inbox.wait_for(reference, 1)
    assert asked["To"].addresses[0].addr_spec == ICB_L1
    again = await web.post("/console/meeting/outcomes", data=form)  # sent twice: recorded once
    assert again.status_code == 303
    recorded = Meetings(make_engine(settings.database)).outcomes(ICB, meeting)
    assert [o.commitment_id for o in recorded].count(reference) == 1


async def test_ops_staff_read_the_pack_but_only_officers_record_outcomes(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    Users(make_engine(settings.database)).add("ops.pack@lmc.example", "ops", "a long outcomes password")
    assert (await sign_in(web, "ops.pack@lmc.example", "a long outcomes password")).status_code == 303
    meeting = last_working_day_by(datetime.now(UTC).date())  # outcomes are of a meeting that has been held
    page = await web.get("/console/meeting", params={"icb": ICB, "date": meeting.isoformat()})
    assert page.status_code == 200
    form = {"csrf": csrf_in(page), "icb": ICB, "date": meeting.isoformat(), "row_count": "1"}
    form["rows.0.outcome"] = "Noted."
    meetings = Meetings(make_engine(settings.database))
    before = meetings.outcomes(ICB, meeting)
    refused = await web.post("/console/meeting/outcomes", data=form)
    assert refused.status_code == 403 and "officers record what a meeting agreed" in refused.text
    assert meetings.outcomes(ICB, meeting) == before, "nothing recorded"


def test_outcomes_are_of_a_meeting_held_on_a_working_day_up_to_today(settings: Settings) -> None:
    config = settings.escalation_config()
    today = datetime.now(UTC).date()
    form = {"rows.0.outcome": "Noted."}
    assert meeting_outcomes.admit_outcomes(config, ICB, form, 1, today, last_working_day_by(today))
    ahead = next_working_day(LEGACY_CALENDAR, today + timedelta(days=7))
    weekend = a_saturday_after(today) - timedelta(days=14)
    christmas = date(today.year - 1, 12, 25)
    for held, words in ((ahead, "after today"), (weekend, "a Saturday"), (christmas, "bank holiday")):
        with pytest.raises(Refused) as refused:
            meeting_outcomes.admit_outcomes(config, ICB, form, 1, today, held)
        assert set(refused.value.fields) == {"date"} and words in refused.value.fields["date"], held
