"""The LMC's practices: loaded from an ODS-shaped CSV (refused row by row, naming the field), updated by
loading again, each sent a standing link to its own alert page; a changed email or a new link replaces the
old, and a withdrawn link opens nothing. Real SMTP (aiosmtpd) and SQLite."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from limits.strategies import FixedWindowRateLimiter
from temporalio.client import Client

import starter
from persistence.database import make_engine
from persistence.practices import AlertRow, Alerts, PracticeRow, Practices
from persistence.rate_limits import DatabaseStorage
from persistence.security_log import SecurityLog
from service import practices
from service.alerts import ALERTS_PER_PRACTICE
from service.refusals import Refused, Why
from settings import Settings
from tests.conftest import Inbox, body_text
from web.app import create_app

HEADER = "Organisation Code,Name,Address Line 1,Postcode,Commissioner,Status Code,Contact Email\n"


def links_to(inbox: Inbox, ods: str) -> list[str]:
    found = []
    for message in inbox.messages:
        if f"[PRACTICE-{ods}]" in str(message["Subject"]):
            found += re.findall(r"http://127\.0\.0\.1:8000(/p/[A-Za-z0-9_.-]+)", body_text(message))
    return found


@pytest.fixture
async def web(time_client: Client, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, time_client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def test_a_file_with_faults_is_refused_row_by_row_naming_the_field(tmp_path: Path) -> None:
    bad = (
        HEADER
        + "X1,Surgery A,1 Street,ME1 1AA,QKS,A,pm@a.example\nG00001,Surgery B,1 Street,ME1 1AA,QKS,A,not an email\n"
    )
    with pytest.raises(Refused) as refused:
        practices.read_csv(bad)
    assert refused.value.why is Why.INVALID
    assert set(refused.value.fields) == {"row 2 ods", "row 3 email"}
    with pytest.raises(Refused, match="Contact Email"):
        practices.read_csv("Organisation Code,Name\nG00001,Surgery\n")
    nhs = HEADER + "G00002,Surgery 943 476 5919,1 Street,ME1 1AA,QKS,A,pm@b.example\n"
    with pytest.raises(Refused, match="NHS number"):
        practices.read_csv(nhs)
    with pytest.raises(Refused, match="cannot be read as CSV"):  # past the csv module's field limit
        practices.read_csv(HEADER + "G00003," + "x" * 200_000 + "\n")


def test_the_cli_has_a_practices_command() -> None:
    args = starter._parser().parse_args(["practices", "load", "epraccur.csv"])
    assert (args.command, args.practices_command, args.file) == ("practices", "load", "epraccur.csv")


async def test_links_are_sent_replaced_and_withdrawn(
    web: httpx.AsyncClient, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    engine = make_engine(settings.database)
    ods = f"H{uuid.uuid4().int % 100000:05d}"
    path = tmp_path / "practices.csv"
    path.write_text(HEADER + f"{ods},The Surgery,1 High Street,ME1 1AA,QKS,A,pm.one@practice.example\n")
    assert (await practices.load(settings, engine, path)).links_sent == [ods]
    [first] = links_to(inbox, ods)
    page = await web.get(first)
    assert page.status_code == 200 and "Report work moved onto The Surgery" in page.text

    # The practice's contact changes: the new contact gets a link, the old link stops.
    path.write_text(HEADER + f"{ods},The Surgery,1 High Street,ME1 1AA,QKS,A,pm.two@practice.example\n")
    result = await practices.load(settings, engine, path)
    assert result.updated == [ods] and result.links_sent == [ods]
    [_, second] = links_to(inbox, ods)
    assert (await web.get(first)).status_code == 410
    assert (await web.get(second)).status_code == 200

    # Withdrawn (in the security log), then a new link sent.
    assert "now withdrawn" in practices.withdraw_link(engine, ods, "ceo@lmc.example", "Sent to the wrong person")
    assert (await web.get(second)).status_code == 410
    assert any(e.event == "links_withdrawn" for e in SecurityLog(engine).recent(50))
    await practices.new_link(settings, engine, ods)
    [*_, third] = links_to(inbox, ods)
    assert (await web.get(third)).status_code == 200 and (await web.get(second)).status_code == 410

    # A closed practice's link opens nothing.
    path.write_text(HEADER + f"{ods},The Surgery,1 High Street,ME1 1AA,QKS,C,pm.two@practice.example\n")
    await practices.load(settings, engine, path)
    assert (await web.get(third)).status_code == 410


def test_practices_and_alerts_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    when = datetime.now(UTC)
    store = Practices(engine)
    row = PracticeRow(ods="J00001", name="PG Surgery", email="pm@pg.example", loaded_at=when)
    assert store.upsert(row)[0] == "added" and store.upsert(row)[0] == "unchanged"
    alerts = Alerts(engine)
    alert = AlertRow(
        reference="IFA-2026-PGAAAA", ods="J00001", provider="RWF", category="fit_note", service="Orthopaedics",
        occurred_on=date(2026, 11, 24), document_ref="FN-1", items=3, staff_minutes=30, risk="routine",
        reported_at=when,
    )  # fmt: skip
    assert alerts.add(alert) and not alerts.add(alert)
    alerts.mark_claimed(["IFA-2026-PGAAAA"], "UWC-2026-PGBBBB")
    [found] = alerts.between(date(2026, 11, 1), date(2026, 11, 30), "RWF")
    assert found.claim_ref == "UWC-2026-PGBBBB" and alerts.for_practice("J00001")[0].items == 3
    store.upsert(PracticeRow(ods="J00001", name="PG Surgery", icb="QKS", email="pm@pg.example", loaded_at=when))
    assert [a.reference for a in alerts.for_icb("qks", date(2026, 11, 1), date(2026, 11, 30))] == ["IFA-2026-PGAAAA"]
    assert alerts.for_icb("QRV", date(2026, 11, 1), date(2026, 11, 30)) == []


async def test_a_practice_link_cannot_flood_the_engine(
    web: httpx.AsyncClient, settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    engine = make_engine(settings.database)
    ods = f"K{uuid.uuid4().int % 100000:05d}"
    path = tmp_path / "practices.csv"
    path.write_text(HEADER + f"{ods},Busy Surgery,1 High Street,ME1 1AA,QKS,A,pm.busy@practice.example\n")
    await practices.load(settings, engine, path)
    [link] = links_to(inbox, ods)
    limiter = FixedWindowRateLimiter(DatabaseStorage(engine))
    for _ in range(ALERTS_PER_PRACTICE.amount):
        assert limiter.hit(ALERTS_PER_PRACTICE, "practice-alerts", ods)
    form = {
        "provider_code": "RWF", "service": "Orthopaedics", "category": "fit_note", "occurred_on": "2026-11-24",
        "document_ref": "FN-77", "items": "1", "what_happened": "Fit note left to the practice.",
        "staff_minutes": "10", "risk": "routine", "submission": uuid.uuid4().hex,
    }  # fmt: skip
    page = await web.post(link, data=form)
    assert page.status_code == 403 and "nothing more was recorded" in page.text
    assert 'value="FN-77"' in page.text  # nothing typed is lost
