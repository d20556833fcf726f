"""The mail server down for an hour (issue #20), on the time-skipping server: the escalation's email waits
and is retried with backoff, the officer's dashboard says mail is delayed meanwhile, and once the server
is back the email goes out exactly once; the deadline it carries is not shortened: the outage runs past
midnight, so the deadline moves on by the working day the email waited (domain/mail_delay.py's rule)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, time, timedelta
from email.message import EmailMessage

import httpx
from aiosmtpd.controller import Controller
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.calendar import LEGACY_CALENDAR
from domain.mail_delay import MOVED_EVENT
from domain.working_days import LONDON, add_working_days, is_working_day, london_date
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.sent_mail import MailStatus, SentMailLedger
from persistence.users import Users
from service import starting
from service.mail_delay import mail_delay
from settings import ROOT, Settings
from tests.conftest import Inbox, free_port
from tests.helpers import CLAIM, OFFICER, PATHOLOGY, example_start, running_worker, sign_in, summary_of
from tests.test_replay import replay_and_maybe_record
from web.app import create_app

ACKNOWLEDGE_DAYS = 3  # config/escalations.toml's acknowledgement wait for a claim


def late_evening_before_a_working_day(now: datetime) -> datetime:
    """23:15 London on the first day from `now` on whose next day is a working day (and still ahead)."""
    day = now.astimezone(LONDON).date()
    while True:
        at = datetime.combine(day, time(23, 15), tzinfo=LONDON)
        if at > now + timedelta(minutes=5) and is_working_day(LEGACY_CALENDAR, day + timedelta(days=1)):
            return at
        day += timedelta(days=1)


async def mail_server_back(
    time_env: WorkflowEnvironment, inbox: Inbox, port: int, cases: list[str], audited: Callable[[], bool]
) -> list[EmailMessage]:
    """The mail server back where it was: eleven minutes on (the backoff is capped at ten) each case's email is in;
    once `audited()`, half an hour more, in which nothing more should go out. The emails that came."""
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        await time_env.sleep(timedelta(minutes=11))
        arrived = [mail for case in cases for mail in await inbox.wait_for(case, 1, timeout=30)]
        for _ in range(50):
            if audited():
                break
            await asyncio.sleep(0.2)
        await time_env.sleep(timedelta(minutes=30))
        await asyncio.sleep(1)
    finally:
        smtp.stop()
    return arrived


async def dashboard_text(dev_env: WorkflowEnvironment, settings: Settings) -> str:
    Users(make_engine(settings.database)).add(OFFICER, "officer", "another long password")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, OFFICER, "another long password")
        page = await http.get("/console")
        assert page.status_code == 200, page.text[:500]
        return page.text


async def test_an_hour_without_the_mail_server_delays_but_never_doubles_or_shortens(
    time_env: WorkflowEnvironment, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    port = free_port()
    local = settings.model_copy(update={"smtp_port": port, "task_queue": f"mail-outage-{uuid.uuid4().hex[:6]}"})
    ledger = SentMailLedger(make_engine(settings.database))
    audit = AuditLog(make_engine(settings.database))
    # Late in the evening, so the hour without mail runs into the next (working) day.
    await time_env.sleep(
        late_evening_before_a_working_day(await time_env.get_current_time()) - await time_env.get_current_time()
    )

    inbox = Inbox()
    async with running_worker(time_env.client, local):
        eid = await starting.start(time_env.client, local, CLAIM, example_start(local))
        requested = await summary_of(time_env.client, eid)
        assert requested.wait is not None and requested.wait.deadline is not None
        written = datetime.fromisoformat(requested.wait.deadline)  # the date the email says

        await time_env.sleep(timedelta(hours=1))  # no mail server all this while
        assert not inbox.for_case(eid)
        waiting = [w for w in ledger.waiting() if w.escalation_id == eid]
        assert len(waiting) == 1 and waiting[0].attempts >= 5, waiting  # retried, with backoff
        assert waiting[0].problem == "no connection to the mail server"
        delay = mail_delay(ledger)
        assert delay is not None and delay.emails >= 1
        page = await dashboard_text(dev_env, local)
        assert 'id="mail-delayed"' in page and "Email is delayed:" in page and "each exactly once" in page
        assert audit.timeline(eid)[-1].event == "submitted"  # nothing recorded as sent

        # the workflow audits the send and moves the deadline just after
        [email] = await mail_server_back(
            time_env, inbox, port, [eid], lambda: MOVED_EVENT in [r.event for r in audit.timeline(eid)]
        )
        after = await summary_of(time_env.client, eid)
        await time_env.client.get_workflow_handle(eid).terminate(reason="test over")
    await replay_and_maybe_record(time_env.client, eid, "unfunded_claim_mail_delayed")  # the moved deadline's shape

    sent = Counter(str(m["Message-ID"]) for m in inbox.for_case(eid))
    assert list(sent.values()) == [1]  # exactly once
    row = ledger.get(str(email["Message-ID"]))
    assert row is not None and row.status == MailStatus.SENT
    assert not [w for w in ledger.waiting() if w.escalation_id == eid]  # the banner's source is clear again

    rows = audit.timeline(eid)
    events = [r.event for r in rows]
    assert events[:3] == ["submitted", "email_sent", MOVED_EVENT], events
    sent_at = rows[1].occurred_at
    assert london_date(sent_at) > london_date(rows[0].occurred_at)  # it went out the day after it was asked
    assert after.wait is not None and after.wait.deadline is not None
    deadline = datetime.fromisoformat(after.wait.deadline)
    assert (
        deadline == add_working_days(LEGACY_CALENDAR, sent_at, ACKNOWLEDGE_DAYS) > written
    )  # counted from the day it went
    assert rows[2].detail["deadline_was"] == written.isoformat()
    assert audit.verify(eid).ok


async def test_an_incidents_practices_opened_without_the_mail_server_each_send_their_own_once_it_is_back(
    time_env: WorkflowEnvironment, settings: Settings
) -> None:
    """A cohort sends its practices' requests a batch at a time; with no mail server, the batch hands each request
    back to its practice (which is already running, its link ready), and each practice retries its own as a
    claim's email is retried. Once the server is back each request goes once, numbered as planned. (The returns
    deadline is the incident's, the same for every practice: a request that waited does not move it.)"""
    port = free_port()
    local = settings.model_copy(update={"smtp_port": port, "task_queue": f"mail-outage-{uuid.uuid4().hex[:6]}"})
    audit = AuditLog(make_engine(settings.database))
    await time_env.sleep(
        late_evening_before_a_working_day(await time_env.get_current_time()) - await time_env.get_current_time()
    )
    data = json.loads((ROOT / "examples" / "pathology_nwl_uacr.json").read_text())
    data["practices"] = data["practices"][:3]
    eid = f"PEC-OUT-{uuid.uuid4().hex[:6].upper()}"
    practices = [f"{eid}-{p['ods']}" for p in data["practices"]]
    inbox = Inbox()
    async with running_worker(time_env.client, local):
        await starting.start(
            time_env.client, local, PATHOLOGY, starting.prepare(PATHOLOGY, local.escalation_config(), data, eid)
        )
        await time_env.sleep(timedelta(hours=1))  # no mail server all this while
        for practice in practices:  # running, waiting for its return, its request not yet sent
            view = await summary_of(time_env.client, practice)
            assert view.status == "awaiting_return"
            assert [r.event for r in audit.timeline(practice)] == ["return_requested"]
        # each practice audits its send just after
        await mail_server_back(
            time_env,
            inbox,
            port,
            practices,
            lambda: all("email_sent" in [r.event for r in audit.timeline(p)] for p in practices),
        )
        await replay_and_maybe_record(time_env.client, practices[0], "practice_return_opening_sent_by_itself")
        await replay_and_maybe_record(time_env.client, f"{eid}-C01", "practice_cohort_opening_handed_back")
        # Every run it started, stopped while this queue's worker still runs: none is left waiting on a task no
        # worker will take, which would hold the shared time-skipping server's clock for the tests after.
        for run in [eid, f"{eid}-C01", f"{eid}-YEAR-END", f"{eid}-INCIDENT-REPORT", *practices]:
            with contextlib.suppress(RPCError):  # finished already
                await time_env.client.get_workflow_handle(run).terminate(reason="test over")
    for practice in practices:
        [request] = inbox.for_case(practice)
        assert str(request["Message-ID"]).startswith(f"<{practice}.1@")  # numbered as its cohort planned
        rows = audit.timeline(practice)
        assert [r.event for r in rows] == ["return_requested", "email_sent"], rows
        assert [r.seq for r in rows] == [1, 2] and audit.verify(practice).ok
