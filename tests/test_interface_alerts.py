"""Interface alerts end to end on the time-skipping server (issue #17): practices loaded from an ODS-shaped
CSV get their standing links; three practices report forty alerts over a working week against two trusts
through their pages; each trust gets one digest per working day; one trust answers through its links (one
answer after asking the practice, which answers through its own link), the other is reminded and escalated;
the officer starts a claim from that trust's alerts, and the ICB is sent the lines citing the alerts."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.alert_digest import DigestActivities
from domain.contacts import Role
from domain.interface_alert import AlertCase, DigestEntry, JoinDigest, digest_id, digest_time
from domain.responses import ResponseInput
from domain.unfunded_claim import ClaimCase
from domain.working_days import LONDON, london_date, next_working_day
from kinds import BY_NAME
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.practices import Alerts
from persistence.users import Users
from service import acting, practices, reading, starting
from service.refusals import Refused
from settings import ROOT, Settings
from tests.conftest import Inbox, body_text
from tests.helpers import csrf_in, sign_in
from tests.test_replay import replay_and_maybe_record
from web.app import create_app

RYJ_LIAISON = "gp.liaison@imperial.example"
RWF_LIAISON = "gp.liaison@mtw.example"
RWF_DIRECTOR = "medical.director@mtw.example"
OFFICER = "ceo@lmc.example"
CATEGORIES = ("onward_referral", "clinic_letter", "discharge_medication", "onward_referral")
ODS_HEADER = (
    "Organisation Code,Name,National Grouping,High Level Health Geography,Address Line 1,Address Line 2,"
    "Address Line 3,Address Line 4,Address Line 5,Postcode,Open Date,Close Date,Status Code,"
    "Organisation Sub-Type Code,Commissioner,Contact Email"
)


def ods_csv(path: Path, codes: list[str]) -> Path:
    rows = [ODS_HEADER] + [
        f"{code},PRACTICE {n} SURGERY,Y59,QKS,{n} HIGH STREET,,MAIDSTONE,KENT,,ME{n} 1AA,19740401,,A,B,QKS,"
        f"pm.{code.lower()}@practice.example"
        for n, code in enumerate(codes, start=1)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def links_in(message: EmailMessage, prefix: str) -> list[str]:
    return re.findall(rf"http://127\.0\.0\.1:8000({prefix}[A-Za-z0-9_.-]+)", body_text(message))


def morning(day: date) -> datetime:
    return datetime.combine(day, time(9, 0), tzinfo=LONDON)


async def sleep_until(env: WorkflowEnvironment, when: datetime) -> None:
    now = await env.get_current_time()
    if when > now:
        await env.sleep(when - now)


def digests(inbox: Inbox) -> list[EmailMessage]:
    return [m for m in inbox.messages if "[IFA-DIGEST-" in str(m["Subject"])]


async def wait_until(check: object, what: str, tries: int = 400) -> None:
    import asyncio

    for _ in range(tries):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_alerts_from_practices_to_a_claim(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    engine = make_engine(settings.database)
    digits = uuid.uuid4().int
    codes = [f"G{(digits >> (20 * i)) % 100000:05d}" for i in range(3)]
    loaded = await practices.load(settings, engine, ods_csv(tmp_path / "epraccur.csv", codes))
    assert sorted(loaded.added) == sorted(codes) and sorted(loaded.links_sent) == sorted(codes)
    again = await practices.load(settings, engine, tmp_path / "epraccur.csv")  # updatable: nothing changed
    assert sorted(again.unchanged) == sorted(codes) and not again.links_sent
    pages = {}
    for code in codes:
        [mail] = [m for m in inbox.messages if f"[PRACTICE-{code}]" in str(m["Subject"])]
        [pages[code]] = links_in(mail, "/p/")

    app = create_app(settings, time_client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as web:
        # Monday to Friday of a working week (or the next five working days), eight alerts a day.
        day = next_working_day(
            settings.escalation_config().calendar, london_date(await time_env.get_current_time()) + timedelta(days=1)
        )
        days: list[date] = []
        reported: dict[str, str] = {}  # reference -> trust
        for _ in range(5):
            await sleep_until(time_env, morning(day))
            days.append(day)
            for i in range(8):
                code, trust = codes[i % 3], ("RYJ", "RWF")[i % 2]
                form = {
                    "provider_code": trust,
                    "service": "Dermatology outpatients",
                    "category": CATEGORIES[i % 4],
                    "occurred_on": min(day, date.today()).isoformat(),  # a letter's date: not after today
                    "document_ref": f"LTR-{day:%m%d}-{i}",
                    "items": str(1 + i % 3),
                    "what_happened": "The clinic letter asks the practice to do what the trust should do itself.",
                    "staff_minutes": "15",
                    "risk": "routine",
                    "submission": uuid.uuid4().hex,
                }
                page = await web.post(pages[code], data=form)
                assert page.status_code == 200, page.text
                found = re.search(r"Your alert (IFA-\d{4}-[A-Z0-9]{6}) has been recorded", page.text)
                assert found, page.text
                reported[found[1]] = trust
                twice = await web.post(pages[code], data=form)  # sent twice: one alert
                assert found[1] in twice.text
                if not days[1:] and i == 0:  # the same letter again, on a new form: refused, not counted twice
                    repeat = await web.post(pages[code], data={**form, "submission": uuid.uuid4().hex})
                    assert repeat.status_code == 422 and "was reported already" in repeat.text, repeat.text
                    assert found[1] in repeat.text and 'id="document_ref-error"' in repeat.text
            day = next_working_day(settings.escalation_config().calendar, day + timedelta(days=1))
        assert len(reported) == 40
        empty = await web.post(pages[codes[0]], data={"submission": uuid.uuid4().hex})  # sent with nothing filled in
        assert empty.status_code == 422
        summary = empty.text.split('id="error-summary"')[1].split("</ul>")[0]
        assert "Provider: " in summary and "What kind of work: " in summary, summary  # each refusal names its field

        # One digest per trust per working day, at the close of the day, four alerts in each, each with its link.
        await sleep_until(time_env, morning(day))
        await wait_until(lambda: _async(len(digests(inbox)) >= 10), "ten digests")
        tags = Counter(re.search(r"\[(IFA-DIGEST-\w+-\d{8})\]", str(m["Subject"]))[1] for m in digests(inbox))  # type: ignore[index]
        assert len(tags) == 10 and set(tags.values()) == {1}, tags
        assert {t.rsplit("-", 1)[1] for t in tags} == {f"{d:%Y%m%d}" for d in days}
        for message in digests(inbox):
            assert len(links_in(message, "/r/")) == 4
            assert message["To"].addresses[0].addr_spec in (RYJ_LIAISON, RWF_LIAISON)

        # Imperial answers every alert through its links; one after asking the practice for information.
        ryj_links = [link for m in digests(inbox) if "-RYJ-" in str(m["Subject"]) for link in links_in(m, "/r/")]
        asked = ryj_links[0]
        page = await web.get(asked)
        assert page.status_code == 200 and "Ask the practice for information" in page.text
        answer = await web.post(
            asked, data={"action": "request_info", "text": "Which clinic wrote it?", "submission": uuid.uuid4().hex}
        )
        assert answer.status_code == 200 and "clock stops" in answer.text
        asked_ref = next(ref for ref in reported if ref in answer.text)
        [question] = await inbox.wait_for(asked_ref, 1)
        assert links_in(question, "/r/"), "the practice may answer through the emailed link, or its own page"
        asker = Alerts(engine).get_many([asked_ref])[0].ods
        empty = await web.post(
            f"{pages[asker]}/answer", data={"reference": asked_ref, "text": " ", "submission": uuid.uuid4().hex}
        )
        assert empty.status_code == 422 and f'id="answer-{asked_ref}-error"' in empty.text
        not_theirs = next(code for code in codes if code != asker)
        other = await web.post(f"{pages[not_theirs]}/answer", data={"reference": asked_ref, "text": "x"})
        assert other.status_code == 404
        supplied = await web.post(
            f"{pages[asker]}/answer",
            data={"reference": asked_ref, "text": "The Tuesday dermatology clinic.", "submission": uuid.uuid4().hex},
        )
        assert supplied.status_code == 200 and "sent to Imperial" in supplied.text
        for link in ryj_links:
            done = await web.post(
                link,
                data={"action": "acknowledge", "text": "Clinic reminded of SC8.4.", "submission": uuid.uuid4().hex},
            )
            assert done.status_code == 200 and "Acknowledged" in done.text, done.text
        for ref in (r for r, t in reported.items() if t == "RYJ"):
            view = await reading.summary(time_client, ref)
            assert view.outcome == "acknowledged" and not view.case_as(AlertCase).wait

        # The practice sees its alerts and the answers.
        practice_page = await web.get(pages[codes[0]])
        assert "Clinic reminded of SC8.4." in practice_page.text and practice_page.text.count("IFA-") >= 13

        # Maidstone says nothing: reminded, then escalated to its medical director.
        rwf = [r for r, t in reported.items() if t == "RWF"]
        for _ in range(2):
            latest = max(
                datetime.fromisoformat(w.deadline)
                for w in [(await reading.summary(time_client, ref)).wait for ref in rwf]
                if w is not None and w.deadline
            )
            await sleep_until(time_env, latest + timedelta(minutes=5))
        for ref in rwf:
            view = await reading.summary(time_client, ref)
            assert view.ladder_level >= 2 and view.outcome is None, (ref, view.ladder_level)
            sent = inbox.for_case(ref)
            assert any("Reminder" in str(m["Subject"]) and m["To"].addresses[0].addr_spec == RWF_LIAISON for m in sent)
            assert any(m["To"].addresses[0].addr_spec == RWF_DIRECTOR for m in sent)

        # The officer sees the pattern and claims for Maidstone's alerts in one action: lines by category at
        # the tariff rate, each citing its alerts.
        Users(engine).add(OFFICER, "officer", "alerts test password")
        assert (await sign_in(web, OFFICER, "alerts test password")).status_code == 303
        view_page = await web.get("/console/alerts", params={"provider": "RWF"})
        assert view_page.status_code == 200 and all(ref in view_page.text for ref in rwf)
        assert "Maidstone and Tunbridge Wells NHS Trust" in view_page.text
        mixed = {f"alert.{rwf[0]}": "on", f"alert.{ryj_any(reported)}": "on"}
        refused = await web.post(
            "/console/alerts/claim", data={"csrf": csrf_in(view_page), "payer_code": "QKS", **mixed}
        )
        assert refused.status_code == 422 and "one provider" in refused.text
        started = await web.post(
            "/console/alerts/claim",
            data={"csrf": csrf_in(view_page), "payer_code": "QKS", **{f"alert.{ref}": "on" for ref in rwf}},
        )
        assert started.status_code == 303, started.text
        claim_ref = started.headers["location"].rsplit("/", 1)[1]
        rows = Alerts(engine).get_many(rwf)
        tariff = settings.escalation_config().tariff
        expected = sum(row.items * tariff[row.category].unit_rate_pence for row in rows)
        claim = (await reading.summary(time_client, claim_ref)).case_as(ClaimCase)
        assert claim.claimed_pence == expected
        assert sorted(claim.claim.practices) == sorted(codes)
        for line in claim.claim.lines:
            cited = [r for r in rows if r.category == line.category.value]
            assert line.count == sum(r.items for r in cited)
            assert {ref.split(" ")[0] for ref in line.evidence_refs} == {r.reference for r in cited}
        [to_icb] = await inbox.wait_for(claim_ref, 1)
        assert to_icb["To"].addresses[0].addr_spec == "primarycare.contracts@kmicb.example"
        text = " ".join(body_text(to_icb).split())
        assert all(ref in text for ref in rwf)
        [icb_link] = links_in(to_icb, "/r/")
        icb_page = await web.get(icb_link)
        assert icb_page.status_code == 200 and claim_ref in icb_page.text
        assert all(ref in icb_page.text for ref in rwf)  # each claim line on the ICB's page cites its alerts
        # ... and the alerts name the claim.
        assert all(row.claim_ref == claim_ref for row in rows)

        # The analysis: shares of items by category, provider, practice and month, each adding up to 100%.
        analysis = await web.get("/console/alerts/analysis.csv")
        assert analysis.status_code == 200
        table = list(csv.DictReader(io.StringIO(analysis.text)))
        for by in ("category", "provider", "ods", "month"):
            assert sum(int(row["share_percent"]) for row in table if row["by"] == by) == 100
        by_provider = {row["key"]: int(row["items"]) for row in table if row["by"] == "provider"}
        assert by_provider["RWF"] >= sum(row.items for row in rows)
        assert (await web.get("/console/alerts/analysis")).status_code == 200

        async def names_the_claim() -> bool:
            view = await reading.summary(time_client, rwf[0])
            return ("Claimed in", claim_ref) in [tuple(f) for f in view.facts]

        await wait_until(names_the_claim, "the alert names its claim")


def ryj_any(reported: dict[str, str]) -> str:
    return next(ref for ref, trust in reported.items() if trust == "RYJ")


async def _async(value: bool) -> bool:
    return value


async def test_an_alert_and_its_digest_replay_and_can_be_recorded(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    """Every kind of step once: joins the day's digest, carried by it, asked, answered by the practice,
    reminded, acknowledged; and the digest itself."""
    spec = BY_NAME["interface_alert"]
    data = json.loads((ROOT / spec.example).read_text())
    reference = f"IFA-2026-R{uuid.uuid4().hex[:5].upper()}"
    await sleep_until(
        time_env,
        morning(
            next_working_day(
                settings.escalation_config().calendar,
                london_date(await time_env.get_current_time()) + timedelta(days=1),
            )
        ),
    )
    prepared = starting.prepare(spec, settings.escalation_config(), data, reference)
    await starting.start(time_client, settings, spec, prepared)
    the_digest = digest_id(settings.escalation_config().calendar, "RWF", await time_env.get_current_time())

    async def digest_started() -> bool:
        try:
            await time_client.get_workflow_handle(the_digest).describe()
            return True
        except RPCError:
            return False

    await wait_until(digest_started, "the digest started")

    async def indexed() -> bool:  # started from a JSON file, not a practice's page: indexed all the same
        return bool(Alerts(make_engine(settings.database)).get_many([reference]))

    await wait_until(indexed, "the alert indexed by its workflow")
    await sleep_until(
        time_env,
        digest_time(settings.escalation_config().calendar, await time_env.get_current_time()) + timedelta(minutes=5),
    )
    await inbox.wait_for(the_digest, 1)
    practice = data["practice_email"]
    await acting.respond(time_client, reference, _said("request_info", RWF_LIAISON, Role.PAYER, "Which clinic?"))
    await acting.respond(time_client, reference, _said("supply_info", practice, Role.PRACTICE, "The Tuesday clinic."))
    view = await reading.summary(time_client, reference)
    assert view.wait is not None and view.wait.deadline
    await sleep_until(time_env, datetime.fromisoformat(view.wait.deadline) + timedelta(minutes=5))  # reminded
    await acting.respond(time_client, reference, _said("acknowledge", RWF_LIAISON, Role.PAYER, "Clinic told."))
    final = await time_client.get_workflow_handle(reference).result()
    assert final["outcome"] if isinstance(final, dict) else final.outcome == "acknowledged"
    events = [e.event for e in AuditLog(make_engine(settings.database)).timeline(reference)]
    assert (
        events[:2] == ["reported", "email_sent"]
        and "deadline_missed" in events
        and events[-1] in ("closed", "email_sent")
    )
    await replay_and_maybe_record(time_client, reference, "interface_alert_complete")
    await replay_and_maybe_record(time_client, the_digest, "interface_alert_digest")


def _said(action: str, email: str, role: Role, text: str) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=role, text=text)


async def test_a_join_that_runs_after_its_digest_went_never_sends_an_alert_twice(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    """The join activity retried after the day's digest has gone: an alert it carried is not sent again; one it
    did not carry goes on its own, at once."""
    provider = settings.escalation_config().organisation("RWF")
    now = await time_env.get_current_time()
    send_at = digest_time(settings.escalation_config().calendar, now)
    the_digest = f"IFA-DIGEST-TEST-{uuid.uuid4().hex[:8].upper()}"

    def join(reference: str) -> JoinDigest:
        entry = DigestEntry(
            reference=reference, practice="Example Surgery (G82001)", service="Cardiology", category="Fit note",
            occurred_on=london_date(now), document_ref="FN-1", items=1, staff_minutes=5,
            what_happened="Fit note left to the practice.", answer_by="17:00 on a working day",
        )  # fmt: skip
        return JoinDigest(digest_id=the_digest, provider=provider, send_at=send_at, entry=entry)

    activities = DigestActivities(settings, make_engine(settings.database))
    env = ActivityEnvironment(client=time_client)
    env.info = dataclasses.replace(env.info, task_queue=settings.task_queue)
    await env.run(activities.join_alert_digest, join("IFA-2026-LATEAA"))
    await env.run(activities.join_alert_digest, join("IFA-2026-LATEAA"))  # a retry while it waits: joins once
    await sleep_until(time_env, send_at + timedelta(minutes=5))
    [sent] = await inbox.wait_for(the_digest, 1)
    assert body_text(sent).count("IFA-2026-LATEAA") == 1
    await env.run(activities.join_alert_digest, join("IFA-2026-LATEAA"))  # after it went: nothing more
    await env.run(activities.join_alert_digest, join("IFA-2026-LATEBB"))  # never in it: goes on its own
    late = await inbox.wait_for(the_digest, 2, family=True)
    assert len(late) == 2 and "IFA-2026-LATEBB" in str(late[1]["Subject"]) + body_text(late[1])
    assert "IFA-2026-LATEAA" not in body_text(late[1])


def test_an_alert_dated_after_today_or_against_an_icb_is_refused_naming_the_field(settings: Settings) -> None:
    spec = BY_NAME["interface_alert"]
    data = json.loads((ROOT / spec.example).read_text())
    tomorrow = (datetime.now(LONDON) + timedelta(days=1)).date().isoformat()
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), {**data, "occurred_on": tomorrow})
    assert set(refused.value.fields) == {"occurred_on"}
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), {**data, "occurred_on": "1900-01-01"})
    assert "outside the years the engine knows" in refused.value.fields["occurred_on"]
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), {**data, "provider_code": "QKS"})
    assert "provider_code" in refused.value.fields and "not a trust" in refused.value.fields["provider_code"]
