"""The LMC's practices: loaded from an ODS-shaped CSV (checked whole first, every row and field at fault named,
and a refused file saves and sends nothing), updated by loading again, each sent a standing link to its own alert page; a changed email or a new link replaces the
old, and a withdrawn link opens nothing. Real SMTP (aiosmtpd) and SQLite."""

from __future__ import annotations

import asyncio
import itertools
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
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
from tests.helpers import run_starter
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


_CODES = itertools.count(1)


def unique_code(letter: str = "W") -> str:
    """An ODS code no other test in this session's database uses (a random one, met twice, would be flaky)."""
    return f"{letter}{next(_CODES):05d}"


def row(ods: str, email: str | None = None, status: str = "A") -> str:
    return f"{ods},Surgery {ods},1 Street,ME1 1AA,QKS,{status},{email or f'pm.{ods.lower()}@practice.example'}\n"


def test_a_file_is_checked_whole_and_every_fault_named_in_plain_words() -> None:
    with pytest.raises(Refused) as header:
        practices.read_csv("ods,name,email address\nG00001,Surgery,pm@a.example\n")
    assert "it has no Organisation Code and no Contact Email column" in header.value.message
    assert "missing" not in header.value.message
    # A short row, and one whose quote is never closed, are the wrong width: not 'is not an email address'.
    broken = HEADER + "G00001,Surgery A\n" + row("G00002") + 'G00003,"Surgery C,1 Street\n' + row("G00004")
    with pytest.raises(Refused) as refused:
        practices.read_csv(broken)
    assert refused.value.fields == {
        "row 2": "has 2 columns where the first row has 7 (is a cell missing, or a quote not closed?)",
        "row 4": "has 2 columns where the first row has 7 (is a cell missing, or a quote not closed?)",
    }
    # A row short of trailing optional cells only (an export that drops empty ones at the end) is read as it is.
    email_first = "Organisation Code,Name,Contact Email,Address Line 1,Postcode,Commissioner,Status Code\n"
    [short] = practices.read_csv(email_first + "G00009,Surgery I,pm.i@practice.example\n")
    assert (short.ods, short.email, short.active) == ("G00009", "pm.i@practice.example", True)
    # Rows are numbered as a spreadsheet shows them: the header is row 1, and a blank row still counts.
    spread = HEADER + row("G00005") + "\n" + row("G00006", "not an email") + "G00007,Name,1,2,3,A,e@x.example,extra\n"
    with pytest.raises(Refused) as refused:
        practices.read_csv(spread)
    assert set(refused.value.fields) == {"row 4 email", "row 5"}
    assert "has 8 columns where the first row has 7" in refused.value.fields["row 5"]
    assert len(practices.read_csv(HEADER.strip() + ",,\n" + row("G00008").strip() + ",,\n")) == 1  # empty extras


async def test_a_practice_on_two_rows_is_refused_naming_both_and_nothing_is_saved_or_sent(
    settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    engine = make_engine(settings.database)
    kept, twice = unique_code(), unique_code()
    path = tmp_path / "practices.csv"
    path.write_text(HEADER + row(kept, "pm.first@practice.example"))
    await practices.load(settings, engine, path)
    sent = len(inbox.messages)
    # The kept practice's new email comes first: a refused file must not save it, nor send it a link.
    path.write_text(
        HEADER + row(kept, "pm.second@practice.example") + row(twice, "a@practice.example")
        + row(twice.lower(), "b@practice.example")
    )  # fmt: skip
    code, _, err = await run_starter(settings, "practices", "load", str(path))
    assert code == 2, err
    assert err.startswith("Refused: row 4 ods: ") and f"{twice} is on row 3 too" in err
    stored = Practices(engine).get(kept)
    assert stored is not None and stored.email == "pm.first@practice.example"
    assert Practices(engine).get(twice) is None
    await asyncio.sleep(0.2)
    assert len(inbox.messages) == sent


async def test_a_file_of_more_practices_than_england_has_is_refused_before_any_is_saved(
    settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    engine = make_engine(settings.database)
    first = unique_code("V")
    path = tmp_path / "everyone.csv"
    path.write_text(HEADER + row(first) + "".join(row(f"U{n:05d}") for n in range(practices.MAX_ROWS)))
    sent = len(inbox.messages)
    with pytest.raises(Refused, match=f"the file has {practices.MAX_ROWS + 1:,} rows of practices, more than the"):
        await practices.load(settings, engine, path)
    assert Practices(engine).get(first) is None and len(inbox.messages) == sent
    huge = tmp_path / "huge.csv"
    with huge.open("w") as file:
        file.write(HEADER)
        file.truncate(practices.MAX_BYTES + 1)
    with pytest.raises(Refused, match="is larger than the 5 MB a file of practices may be"):
        await practices.load(settings, engine, huge)


ROW_KINDS = st.sampled_from(["good", "closed", "bad email", "short", "again"])


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(kinds=st.lists(ROW_KINDS, min_size=1, max_size=5))
async def test_any_file_loads_whole_or_is_refused_with_nothing_saved_or_sent(
    settings: Settings, inbox: Inbox, kinds: list[str]
) -> None:
    engine = make_engine(settings.database)
    codes = [unique_code("T") for _ in kinds]
    lines = {
        "good": lambda n: row(codes[n]),
        "closed": lambda n: row(codes[n], status="C"),
        "bad email": lambda n: row(codes[n], "not an email"),
        "short": lambda n: f"{codes[n]},Surgery\n",
        "again": lambda n: row(codes[n - 1] if n else codes[n]),
    }
    faulty = any(kind in ("bad email", "short") or (kind == "again" and n) for n, kind in enumerate(kinds))
    sent = len(inbox.messages)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "practices.csv"
        path.write_text(HEADER + "".join(lines[kind](n) for n, kind in enumerate(kinds)))
        try:
            result = await practices.load(settings, engine, path)
        except Refused:
            assert faulty
            assert all(Practices(engine).get(code) is None for code in codes) and len(inbox.messages) == sent
            return
    assert not faulty  # so a row "again" is only ever the first, and is itself a good row
    assert all(Practices(engine).get(code) is not None for code in codes)
    assert sorted(result.links_sent) == sorted(c for c, kind in zip(codes, kinds, strict=True) if kind != "closed")


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
    assert "built-in method" not in page.text and "object at 0x" not in page.text  # every label is its words
    at_r = await web.get(first.replace("/p/", "/r/"))  # opened at a request's address: sent on to its own page
    assert at_r.status_code == 303 and at_r.headers["location"] == first[first.index("/p/") :]

    # The practice's contact changes: the new contact gets a link, the old link stops.
    path.write_text(HEADER + f"{ods},The Surgery,1 High Street,ME1 1AA,QKS,A,pm.two@practice.example\n")
    result = await practices.load(settings, engine, path)
    assert result.updated == [ods] and result.links_sent == [ods]
    [_, second] = links_to(inbox, ods)
    assert (await web.get(first)).status_code == 410
    assert (await web.get(second)).status_code == 200

    # From the command line: the options named as typed, and only one of the LMC's officers named as who did it.
    code, _, err = await run_starter(settings, "practices", "withdraw-link", ods, "--officer", "ceo@lmc.example")
    assert code == 2 and "--reasons:" in err and "reason:" not in err.replace("--reasons:", ""), err
    code, _, err = await run_starter(settings, "practices", "withdraw-link", ods, "--officer", "x@elsewhere.example")
    assert code == 2 and "--officer: x@elsewhere.example is not one of" in err, err
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
