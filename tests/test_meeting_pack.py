"""The liaison meeting pack for an ICB with a stalled claim and an open incident: on the page, in
the Word document the officer sends ahead, and refused field by field when the choice is wrong."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import docx
import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import LEGACY_CALENDAR
from domain.working_days import next_working_day
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.meetings import Meetings
from persistence.users import Users
from service import acting, meeting_outcomes, meeting_pack, starting
from service.meeting_pack import MeetingPack
from settings import ROOT, Settings
from tests.helpers import DEREGISTRATION, ICB_L1, OFFICER, csrf_in, payer, sign_in
from tests.meeting_seed import start_stalled_claim
from web.app import create_app

ICB = "QRV"


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    Users(make_engine(settings.database)).add("pack.officer@lmc.example", "officer", "a long pack password")
    app = create_app(settings, dev_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def pack_with(dev_env: WorkflowEnvironment, settings: Settings, *references: str) -> MeetingPack:
    """The pack once visibility lists every one of `references` (search attributes land a moment after a start)."""
    engine = make_engine(settings.database)
    meeting = next_working_day(LEGACY_CALENDAR, datetime.now(UTC).date() + timedelta(days=3))
    for _ in range(100):
        pack = await meeting_pack.gather(
            dev_env.client, settings.escalation_config(), AuditLog(engine), Meetings(engine), ICB, meeting
        )
        listed = {i.reference for i in (*pack.agenda, *pack.incidents)}
        if set(references) <= listed:
            return pack
        await asyncio.sleep(0.2)
    raise AssertionError(f"{references} not all in the pack")


async def test_a_pack_has_the_stalled_claim_and_the_open_incident_on_the_page_and_in_the_document(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, web: httpx.AsyncClient
) -> None:
    audit = AuditLog(make_engine(settings.database))
    claim = await start_stalled_claim(dev_env.client, settings, audit, ICB, "Shared care for ADHD without agreement")
    incident = await starting.start(
        dev_env.client,
        settings,
        DEREGISTRATION,
        starting.prepare(
            DEREGISTRATION,
            settings.escalation_config(),
            starting.read_json(ROOT / DEREGISTRATION.example),
        ),
    )
    pack = await pack_with(dev_env, settings, claim, incident)

    [stalled] = [i for i in pack.agenda if i.reference == claim]
    assert stalled.stalled and stalled.level == 3 and stalled.title == "Shared care for ADHD without agreement"
    assert stalled.why.startswith("Stalled")
    assert stalled.ask.startswith("Stalled with no response from any contact.")
    assert "North West London" in stalled.ask or pack.icb.name in stalled.ask
    assert any(line.what == "Stalled: no response at the top of the ladder" for line in stalled.history)
    [open_incident] = [i for i in pack.incidents if i.reference == incident]
    assert open_incident.kind_label == DEREGISTRATION.label
    assert incident in {c.reference for c in pack.changes}, "the incident started since the last meeting"
    assert claim in {c.reference for c in pack.changes}, "the claim stalled within the eight weeks looked back"
    assert pack.since == pack.meeting_date - meeting_pack.DEFAULT_LOOKBACK and pack.previous_meeting is None

    assert (await sign_in(web, "pack.officer@lmc.example", "a long pack password")).status_code == 303
    query = {"icb": ICB, "date": pack.meeting_date.isoformat()}
    page = await web.get("/console/meeting", params=query)
    assert page.status_code == 200
    for words in (claim, incident, "Shared care for ADHD without agreement", "The ask:", "@media print"):
        assert words in page.text, words

    document = await web.get("/console/meeting/pack.docx", params=query)
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("application/vnd.openxmlformats")
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(document.content)).paragraphs)
    assert pack.title in text
    assert f"Shared care for ADHD without agreement ({claim})" in text
    assert incident in text and "The ask: Stalled with no response" in text
    assert "Escalations for the agenda" in text and "Open incidents" in text


async def test_a_wrong_choice_is_refused_beside_its_field(web: httpx.AsyncClient) -> None:
    assert (await sign_in(web, "pack.officer@lmc.example", "a long pack password")).status_code == 303
    page = await web.get("/console/meeting", params={"icb": "RYJ", "date": "2026-13-01"})
    assert page.status_code == 422
    assert 'id="date-error"' in page.text and 'id="icb-error"' not in page.text  # the date fails first, alone
    page = await web.get("/console/meeting", params={"icb": "RYJ", "date": "2026-12-01"})
    assert page.status_code == 422 and 'id="icb-error"' in page.text and "is a trust" in page.text
    assert 'value="2026-12-01"' in page.text, "what was chosen is kept"
    page = await web.get("/console/meeting", params={"icb": ICB, "date": "2026-12-01", "since": "2026-12-08"})
    assert page.status_code == 422 and "counted from a day before the meeting" in page.text
    signed_out = await httpx.AsyncClient(transport=web._transport, base_url="http://testserver").get(
        "/console/meeting/pack.docx", params={"icb": ICB, "date": "2026-12-01"}
    )
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"


PARAMS = st.dictionaries(
    st.sampled_from(["icb", "date", "since", "row_count", "rows.0.outcome", "rows.0.due", "rows.0.contact"]),
    st.one_of(
        st.sampled_from(["QRV", "QKS", "RYJ", "0001-01-01", "9999-12-31", "2026-12-05", "-1", "999999999", ""]),
        st.text(max_size=30),
    ),
    max_size=6,
)


@settings_(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PARAMS, post=st.booleans(), with_csrf=st.booleans())
async def test_no_choice_or_form_makes_a_server_error(
    web: httpx.AsyncClient, params: dict[str, str], post: bool, with_csrf: bool
) -> None:
    if "lmc_session" not in web.cookies:
        assert (await sign_in(web, "pack.officer@lmc.example", "a long pack password")).status_code == 303
    if post:
        page = await web.get("/console/meeting", params={"icb": "QKS", "date": "2026-11-02"})  # its form's token
        body = {**params, "csrf": csrf_in(page) if with_csrf else "x", "submission": uuid.uuid4().hex}
        answer = await web.post("/console/meeting/outcomes", data=body)
    else:
        answer = await web.get("/console/meeting" if with_csrf else "/console/meeting/pack.docx", params=params)
    assert answer.status_code < 500, (answer.status_code, answer.text[:500])


async def test_the_next_pack_reports_back_on_the_last_meetings_commitments(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, web: httpx.AsyncClient
) -> None:
    engine = make_engine(settings.database)
    meetings = Meetings(engine)
    icb = "QKS"
    today = datetime.now(UTC).date()
    # Meetings months ago (no other test meets QKS then); the commitment is due in the future all the same.
    last = next_working_day(LEGACY_CALENDAR, today - timedelta(days=150))
    upcoming = next_working_day(LEGACY_CALENDAR, last + timedelta(days=28))
    form = {
        "rows.0.outcome": "The ICB will send practices its guidance on onward referrals.",
        "rows.0.commitment": "Send practices the onward referral guidance",
        "rows.0.contact": ICB_L1,
        "rows.0.due": next_working_day(LEGACY_CALENDAR, today + timedelta(days=10)).isoformat(),
        "rows.1.outcome": "Mental health: the ICB will update the next meeting.",
    }
    [kept, _] = await meeting_outcomes.record(
        dev_env.client, settings, meetings, OFFICER, icb, last, uuid.uuid4().hex, form, 2, {}
    )
    assert kept.commitment_id is not None
    await acting.respond(dev_env.client, kept.commitment_id, payer("confirm", text="ICB bulletin 14, item 3"))

    for _ in range(100):
        pack = await meeting_pack.gather(
            dev_env.client, settings.escalation_config(), AuditLog(engine), meetings, icb, upcoming
        )
        changed = [line.what for c in pack.changes if c.reference == kept.commitment_id for line in c.lines]
        if "Closed" in changed:  # the confirmation's last audit step is written
            break
        await asyncio.sleep(0.2)
    [line] = [c for c in pack.commitments if c.reference == kept.commitment_id]
    assert line.status == "confirmed" and line.contact == ICB_L1 and line.meeting_date == last
    assert pack.previous_meeting == last and pack.since == last, "changes counted from the last meeting"
    [change] = [c for c in pack.changes if c.reference == kept.commitment_id]
    assert any(line.what.startswith("Response recorded: confirm by") for line in change.lines), change.lines

    assert (await sign_in(web, "pack.officer@lmc.example", "a long pack password")).status_code == 303
    document = await web.get("/console/meeting/pack.docx", params={"icb": icb, "date": upcoming.isoformat()})
    table = docx.Document(io.BytesIO(document.content)).tables[0]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == ["Reference", "Commitment", "Who", "By", "Now"]
    assert [kept.commitment_id, "Send practices the onward referral guidance", ICB_L1] in [r[:3] for r in rows]
    page = await web.get("/console/meeting", params={"icb": icb, "date": upcoming.isoformat()})
    assert "(the previous meeting)" in page.text and kept.commitment_id in page.text
