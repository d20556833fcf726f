"""A bank holiday announced while escalations run (issue #18): ops add it from the command line, a running
escalation whose pending deadline window holds it moves its deadline on by one working day, says why in its
audit trail, and emails the new date to whoever was given the old one; the link page shows the new date.
A file that would take a year's holidays is refused, from the command line and the console, and no escalation
is told; a moved holiday or gov.uk's whole file is taken.
The calendar the test installs lives in a database of its own, so other tests keep the shipped one."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_of
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import formatting
from domain.calendar import BankHoliday, calendar_of_case, to_govuk
from domain.working_days import at_close_of_day, describe_deadline, london_date, next_working_day
from persistence.audit_log import AuditLog
from persistence.calendars import Calendars
from persistence.database import make_engine
from persistence.security_log import SecurityLog
from persistence.users import Users
from settings import Settings
from tests.conftest import Inbox, body_text
from tests.helpers import EXAMPLE, csrf_of, sign_in, summary_of
from tests.test_starter_cli import cli_env, run_cli
from web.app import create_app

TITLE = "Bank holiday for a national occasion"


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        yield http


async def newest_email(inbox: Inbox, escalation_id: str, subject_has: str) -> str:
    for _ in range(300):
        found = [m for m in inbox.for_case(escalation_id) if subject_has in str(m["Subject"])]
        if found:
            return f"{found[-1]['Subject']}\n{body_text(found[-1])}"
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email about {escalation_id} with '{subject_has}'")


async def test_a_holiday_added_from_the_cli_moves_a_running_deadline_and_says_so(
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    web: httpx.AsyncClient,
    settings: Settings,
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    env = {**cli_env(dev_env, settings), "DATABASE_URL": f"sqlite:///{tmp_path}/calendar.db"}
    code, out, err = await run_cli(env, "start-claim", str(EXAMPLE), "--again")  # once a test
    assert code == 0, err
    eid = out.strip().splitlines()[-1]
    [request] = await inbox.wait_for(eid, 1)
    link = re.search(r"http://127\.0\.0\.1:8000(/r/[A-Za-z0-9_.-]+)", body_text(request))
    assert link is not None
    before = await summary_of(dev_env.client, eid)
    assert before.wait is not None and before.wait.deadline is not None
    old = datetime.fromisoformat(before.wait.deadline)
    calendar = calendar_of_case(before.case)
    assert not calendar.is_legacy, "a new escalation carries the installed calendar"
    assert describe_deadline(old) in body_text(request)
    # The first working day after today lies inside the three-working-day acknowledgement window.
    holiday = next_working_day(calendar, london_date(datetime.now(UTC)) + timedelta(days=1))
    assert holiday < london_date(old)

    code, out, err = await run_cli(env, "calendar", "add", holiday.isoformat(), "--title", TITLE, "--by", "ops@lmc")
    assert code == 0, err
    assert "installed" in out and eid in out and "deadline moved" in out, out
    assert "calendar_told" not in out + err, "a service's info log line is not printed to the officer"

    after = await summary_of(dev_env.client, eid)
    assert after.wait is not None and after.wait.deadline is not None
    new = datetime.fromisoformat(after.wait.deadline)
    moved_to = calendar_of_case(after.case)
    assert moved_to.is_holiday(holiday) and moved_to.version != calendar.version
    assert new == at_close_of_day(next_working_day(moved_to, london_date(old) + timedelta(days=1)))
    assert new > old and after.status == before.status == "submitted"

    audit = AuditLog(make_engine(settings.database))
    for _ in range(100):
        moved = [row for row in audit.timeline(eid) if row.event == "deadline_moved"]
        if moved:
            break
        await asyncio.sleep(0.1)
    assert moved and moved[0].actor == "ops@lmc"
    assert moved[0].detail["from"] == old.isoformat() and moved[0].detail["to"] == new.isoformat()
    assert f"{holiday.isoformat()} {TITLE} added as a bank holiday" in moved[0].detail["why"]

    email = await newest_email(inbox, eid, "New deadline")
    assert describe_deadline(new) in email and describe_deadline(old) in email and TITLE in email
    page = await web.get(link.group(1))
    assert page.status_code == 200 and describe_deadline(new) in page.text

    # Who changed what is in the security and operations log; telling again changes nothing more.
    logged = [e for e in SecurityLog(make_engine(env["DATABASE_URL"])).recent() if e.event == "calendar_changed"]
    assert logged and logged[0].by == "ops@lmc" and logged[0].detail["added"] == [f"{holiday.isoformat()} {TITLE}"]
    code, out, err = await run_cli(env, "calendar", "add", holiday.isoformat(), "--title", TITLE)
    assert code == 2 and "date: " in err and "already a bank holiday" in err
    code, out, _ = await run_cli(env, "calendar", "show")
    assert code == 0 and f"{holiday:%a %d %b %Y}  {TITLE}" in out


async def test_what_ops_type_is_refused_naming_the_field(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    env = {**cli_env(dev_env, settings), "DATABASE_URL": f"sqlite:///{tmp_path}/calendar.db"}
    code, _, err = await run_cli(env, "calendar", "add", "2027-02-30", "--title", TITLE)
    assert code == 2 and err.startswith("Refused: date:"), err
    code, _, err = await run_cli(env, "calendar", "add", "2027-06-05", "--title", TITLE)
    assert code == 2 and "weekend" in err, err
    code, _, err = await run_cli(env, "calendar", "add", "2027-06-07", "--title", "Day\r\nBcc: x@example.com")
    assert code == 2 and "title" in err, err
    (tmp_path / "broken.json").write_text("{}")
    code, _, err = await run_cli(env, "calendar", "load", str(tmp_path / "broken.json"))
    assert code == 2 and "file:" in err and "england-and-wales" in err, err


async def test_ops_keep_the_calendar_from_the_console_and_officers_only_read_it(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, tmp_path: Path
) -> None:
    own = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/console.db"})
    users = Users(make_engine(own.database))
    users.add("ops@lmc.example", "ops", "correct horse battery")
    users.add("ceo@lmc.example", "officer", "another long password")
    app = create_app(own, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, "ceo@lmc.example", "another long password")
        page = await http.get("/console/calendar")
        assert page.status_code == 200 and "Holidays ahead" in page.text and "Add an announced" not in page.text
        token = await csrf_of(http, "/console/start/unfunded_claim")  # the officer session's token
        refused = await http.post("/console/calendar", data={"csrf": token, "date": "2027-06-07", "title": TITLE})
        assert refused.status_code == 403 and "only ops staff" in refused.text
        await http.post("/logout")

        await sign_in(http, "ops@lmc.example", "correct horse battery")
        token = await csrf_of(http, "/console/calendar")
        weekend = await http.post("/console/calendar", data={"csrf": token, "date": "2027-06-05", "title": TITLE})
        assert weekend.status_code == 422 and "weekend" in weekend.text and TITLE in weekend.text, "typed text kept"
        added = await http.post("/console/calendar", data={"csrf": token, "date": "2027-06-07", "title": TITLE})
        assert added.status_code == 200 and "installed" in added.text and "Monday 7 June 2027" in added.text
        calendar = Calendars(make_engine(own.database)).current()
        govuk = json.dumps(to_govuk(calendar.with_holiday(date(2027, 6, 8), "A second day")))
        loaded = await http.post("/console/calendar", data={"csrf": token, "govuk_json": govuk})
        assert loaded.status_code == 200 and "Tuesday 8 June 2027" in loaded.text
        broken = await http.post("/console/calendar", data={"csrf": token, "govuk_json": "{not json"})
        assert broken.status_code == 422 and "not valid JSON" in broken.text
        deep = await http.post("/console/calendar", data={"csrf": token, "govuk_json": "[" * 5000 + "]" * 5000})
        assert deep.status_code == 422 and "deeper than any it could need" in deep.text
    logged = [e for e in SecurityLog(make_engine(own.database)).recent() if e.event == "calendar_changed"]
    assert [e.detail["source"] for e in logged] == ["console", "announced holiday"]
    assert all(e.by == "ops@lmc.example" for e in logged)


def govuk_file(holidays: list[BankHoliday]) -> str:
    events = [{"title": h.title, "date": h.day.isoformat()} for h in holidays]
    return json.dumps({"england-and-wales": {"division": "england-and-wales", "events": events}})


async def test_a_file_that_would_take_a_years_holidays_is_refused_and_no_escalation_is_told(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    env = {**cli_env(dev_env, settings), "DATABASE_URL": f"sqlite:///{tmp_path}/calendar.db"}
    code, out, err = await run_cli(env, "start-claim", str(EXAMPLE), "--again")  # once a test
    assert code == 0, err
    eid = out.strip().splitlines()[-1]
    await inbox.wait_for(eid, 1)
    carried = calendar_of_case((await summary_of(dev_env.client, eid)).case)
    _, shown, _ = await run_cli(env, "calendar", "show")
    year = datetime.now(UTC).year + 1
    installed = Calendars(make_engine(env["DATABASE_URL"])).current()
    ahead = [h for h in installed.holidays if h.day.year == year and h.day.weekday() < 5]

    (tmp_path / "one.json").write_text(govuk_file([BankHoliday(day=date(year, 2, 1), title="X")]))
    code, out, err = await run_cli(env, "calendar", "load", str(tmp_path / "one.json"))
    assert code == 2 and err.startswith(f"Refused: file: this would take away {len(ahead)} bank holidays in {year};")
    assert "https://www.gov.uk/bank-holidays.json" in err.splitlines()[0], "what to do, on the line a terminal shows"
    assert (await run_cli(env, "calendar", "show"))[1] == shown, "nothing installed"
    assert calendar_of_case((await summary_of(dev_env.client, eid)).case).version == carried.version, "nobody told"
    assert not [e for e in SecurityLog(make_engine(env["DATABASE_URL"])).recent() if e.event == "calendar_changed"]

    # A holiday gov.uk moves (one gone from the year, another added) is taken, and the escalation is told.
    spring = next(h for h in ahead if h.day.month == 5 and h.day.day > 24)
    moved = [h for h in installed.holidays if h.day.year == year and h != spring]
    moved.append(BankHoliday(day=spring.day + timedelta(days=3), title=spring.title))
    (tmp_path / "moved.json").write_text(govuk_file(sorted(moved, key=lambda h: h.day)))
    code, out, err = await run_cli(env, "calendar", "load", str(tmp_path / "moved.json"))
    assert code == 0 and "installed" in out, err
    now_installed = Calendars(make_engine(env["DATABASE_URL"])).current()
    assert spring.day not in now_installed.days and spring.day + timedelta(days=3) in now_installed.days
    assert calendar_of_case((await summary_of(dev_env.client, eid)).case).version == now_installed.version


async def test_the_console_refuses_a_one_event_file_naming_what_would_go_and_takes_govuks_whole_file(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, tmp_path: Path
) -> None:
    own = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/console.db"})
    Users(make_engine(own.database)).add("ops@lmc.example", "ops", "correct horse battery")
    installed = Calendars(make_engine(own.database)).current()
    year = datetime.now(UTC).year + 1
    app = create_app(own, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, "ops@lmc.example", "correct horse battery")
        token = await csrf_of(http, "/console/calendar")
        before = await http.get("/console/calendar")
        one = govuk_file([BankHoliday(day=date(year, 2, 1), title="X")])
        refused = await http.post("/console/calendar", data={"csrf": token, "govuk_json": one})
        assert refused.status_code == 422 and "Nothing changed." in refused.text
        page = html.unescape(refused.text)
        for gone in [h for h in installed.holidays if h.day.year == year and h.day.weekday() < 5]:
            assert f"{gone.title} on {formatting.day(gone.day)}" in page
        assert not re.search(r"\d{4}-\d\d-\d\d", page.split("<textarea")[0]), "no ISO dates before the typed text"
        assert Calendars(make_engine(own.database)).current() == installed
        again = await http.get("/console/calendar")
        assert again.text.replace(token, "") == before.text.replace(token, "")

        # gov.uk's file as published: the years it lists, weekday dates only (a weekend one is its substitute).
        published = [h for h in installed.holidays if year - 7 <= h.day.year <= year + 1 and h.day.weekday() < 5]
        taken = await http.post("/console/calendar", data={"csrf": token, "govuk_json": govuk_file(published)})
        assert taken.status_code == 200 and "installed" in taken.text
    assert Calendars(make_engine(own.database)).current().days >= {h.day for h in published}


@pytest.fixture(scope="module")
async def ops_console(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The console signed in as ops, over a database of its own (the calendars it installs stay there)."""
    own = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/console.db"})
    Users(make_engine(own.database)).add("ops@lmc.example", "ops", "correct horse battery")
    app = create_app(own, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, "ops@lmc.example", "correct horse battery")
        yield http


@settings_of(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.fixed_dictionaries(
        {},
        optional={
            "date": st.one_of(st.text(max_size=30), st.dates().map(date.isoformat)),
            "title": st.text(max_size=200),
            "govuk_json": st.one_of(
                st.text(max_size=300),
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: (
                        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=20), inner, max_size=3)
                    ),
                    max_leaves=12,
                ).map(json.dumps),
                st.builds(
                    lambda events: json.dumps({"england-and-wales": {"events": events}}),
                    st.lists(
                        st.fixed_dictionaries({"date": st.text(max_size=12), "title": st.text(max_size=30)}), max_size=3
                    ),
                ),
            ),
        },
    )
)
async def test_whatever_ops_post_to_the_calendar_page_is_answered_without_a_5xx(
    form: dict[str, str], ops_console: httpx.AsyncClient
) -> None:
    token = await csrf_of(ops_console, "/console/calendar")
    answer = await ops_console.post("/console/calendar", data={**form, "csrf": token})
    assert answer.status_code < 500, (form, answer.text[:300])
