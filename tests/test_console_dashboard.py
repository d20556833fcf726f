"""The console's dashboard over HTTP against the dev server: each row from search attributes alone (title,
counterpart, practices, money, deadline in words, ladder, whose move), search by words of the title, a
reference, an ODS code or a contact's address, practices' requests found alongside, sorting, and counts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from persistence.database import make_engine
from persistence.sent_mail import STALE_CLAIM, MailStatus, SentEmail, SentMailLedger
from persistence.users import Users
from service import acting, listing, starting
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import CLAIM, example_start, officer, sign_in
from tests.test_replay import complete_claim, replay_and_maybe_record
from web.app import create_app
from web.console.dashboard import PageTokens
from workflows import search_attributes as sa


@pytest.fixture
async def console(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    Users(make_engine(settings.database)).add("dash@lmc.example", "officer", "a long dashboard password")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await sign_in(http, "dash@lmc.example", "a long dashboard password")
        yield http


async def until_listed(console: httpx.AsyncClient, params: dict[str, str], wanted: str) -> str:
    """The dashboard's HTML once `wanted` shows (visibility is eventually consistent)."""
    for _ in range(60):
        page = await console.get("/console", params=params)
        assert page.status_code == 200, page.text
        if wanted in page.text:
            return page.text
        await asyncio.sleep(0.25)
    raise AssertionError(f"{wanted!r} never showed for {params}")


async def test_rows_come_from_search_attributes_and_every_search_finds_them(
    console: httpx.AsyncClient, dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    word = f"Zebra{uuid.uuid4().hex[:6]}"
    title = f"Onward referrals {word} quarter two, Dr O’Brien’s list"
    start = example_start(settings, title=title, practices=["G82001", "G82077"])
    eid = await starting.start(dev_env.client, settings, CLAIM, start)
    await inbox.wait_for(eid, 1)

    page = await until_listed(console, {"q": word}, eid)
    row = page.split(f'href="/console/e/{eid}"')[1].split("</tr>")[0]
    assert f"Onward referrals {word} quarter two" in row
    assert "NHS Kent and Medway ICB" in row  # the counterpart by name, not its code
    assert "£" in row and "working days left" in row and "ICB or trust" in row  # money, deadline, whose move

    searches = (eid[:12], "g82077", "G82077", "PrimaryCare.Contracts@kmicb.example", f"O'Brien's {word}")
    for search in searches:
        assert eid in await until_listed(console, {"q": search}, eid), search
    elsewhere = await console.get("/console", params={"q": f"{word} nowhere{uuid.uuid4().hex[:4]}"})
    assert eid not in elsewhere.text  # every word must match

    injected = await console.get("/console", params={"q": "x' OR 1=1"})  # only words reach the query: x OR 1 1
    assert injected.status_code == 200 and eid not in injected.text
    refused = await console.get("/console", params={"q": "x" * 100})
    assert refused.status_code == 422 and 'href="#q"' in refused.text and 'id="q-error"' in refused.text
    mistyped = await console.get("/console", params={"kind": "unfunded clam"})
    assert (
        mistyped.status_code == 422
        and "is not a kind of escalation" in mistyped.text
        and "unfunded_claim" in mistyped.text
    )

    by_claimed = await console.get("/console", params={"q": word, "sort": "claimed", "dir": "asc"})
    assert 'aria-sort="ascending"' in by_claimed.text and eid in by_claimed.text
    assert "1 match" in by_claimed.text.replace("<strong>", "").replace("</strong>", "")
    await acting.respond(dev_env.client, eid, officer("withdraw", reasons="dashboard test over"))


async def test_a_claim_publishing_the_console_attributes_replays_and_can_be_recorded(
    time_env: WorkflowEnvironment, time_client: Client, settings: Settings, inbox: Inbox
) -> None:
    """The shape under the console-listing rules (the wider upserts, no marker), recorded as
    tests/histories/unfunded_claim_console_attributes.json and replayed with the others."""
    eid = await complete_claim(time_env, time_client, settings, inbox)
    history = await time_client.get_workflow_handle(eid).fetch_history()
    upserted = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert b"Recorded complete claim" in upserted[0][sa.TITLE.name].data
    assert not any(e.HasField("marker_recorded_event_attributes") for e in history.events)  # no patch marker
    assert sa.pence_keyword(2837_00).encode() in upserted[-1][sa.PAID.name].data
    await replay_and_maybe_record(time_client, eid, "unfunded_claim_console_attributes")


async def test_answers_are_shared_a_failure_is_not_kept_and_a_caller_leaving_cancels_nothing() -> None:
    asked: list[int] = []

    async def ask() -> int:
        asked.append(1)
        await asyncio.sleep(0.05)
        return len(asked)

    key = ("test", uuid.uuid4().hex)
    assert await asyncio.gather(*(listing.shared(key, 5, ask) for _ in range(20))) == [1] * 20
    assert len(asked) == 1

    async def broken() -> int:
        raise RuntimeError("visibility down")

    other = ("test", uuid.uuid4().hex)
    with pytest.raises(RuntimeError):
        await listing.shared(other, 5, broken)
    assert await listing.shared(other, 5, ask) == 2  # asked again, not the kept failure

    third = ("test", uuid.uuid4().hex)
    leaving = asyncio.create_task(listing.shared(third, 5, ask))
    staying = asyncio.create_task(listing.shared(third, 5, ask))
    await asyncio.sleep(0.01)
    leaving.cancel()
    assert await staying == 3


def test_a_stale_send_shows_as_held_without_a_write_until_someone_acts(settings: Settings) -> None:
    ledger = SentMailLedger(make_engine(settings.database))
    message_id = f"<UWC-LOOK.{uuid.uuid4().hex[:6]}@x>"
    assert ledger.begin_sending(
        SentEmail(message_id=message_id, escalation_id="UWC-LOOK", purpose="p", recipient="a@b.example", subject="s")
    )
    later = datetime.now(UTC) + STALE_CLAIM + timedelta(minutes=1)
    assert message_id not in [h.message_id for h in ledger.held_or_stale()]  # it may still be sending
    assert message_id in [h.message_id for h in ledger.held_or_stale(later)]
    [sent] = ledger.for_escalation("UWC-LOOK")
    assert ledger.is_held(sent, later) and not ledger.is_held(sent)
    assert ledger.get(message_id).status == MailStatus.SENDING  # type: ignore[union-attr]  # nothing written


TOKENS = PageTokens(b"k" * 32)


@given(token=st.text(max_size=60), query=st.text(max_size=60), other=st.text(max_size=60), typed=st.text(max_size=80))
def test_a_page_token_reaches_temporal_only_as_signed_for_its_own_search(
    token: str, query: str, other: str, typed: str
) -> None:
    """A next-page link's token comes back as it was sealed; one altered, typed, or carried to another search
    reads as the first page (""), never as something to send to Temporal."""
    sealed = TOKENS.seal(token, query)
    assert TOKENS.open(sealed, query) == token
    if other != query:
        assert TOKENS.open(sealed, other) == ""
    opened = TOKENS.open(typed, query)
    assert opened == "" or TOKENS.seal(opened, query) == typed  # only what this console sealed opens
    assert PageTokens(b"x" * 32).open(sealed, query) == ""  # another console's key


async def test_a_control_character_in_what_a_page_echoes_is_shown_not_sent(console: httpx.AsyncClient) -> None:
    """A filter's value or an address carrying a NUL or an escape comes back in the page as '\ufffd', on every
    route (one filter in the one template environment), and the page still answers in words."""
    for path, params in (
        ("/console", {"payer": "KM\x00ICB"}),
        ("/console", {"q": "zebra\x1b[31m"}),
        ("/console", {"status": "open\x7f\x85"}),
        ("/console/e/UWC-2026-NOPE00%00", {}),
        ("/console/e/UWC-2026-NOPE00%07/practices", {}),
    ):
        page = await console.get(path, params=params)
        assert page.status_code in (200, 404, 422), (path, page.status_code)
        assert not any(ord(c) < 0x20 and c not in "\t\r\n" or 0x7F <= ord(c) < 0xA0 for c in page.text), path
        assert "\ufffd" in page.text, (path, params)  # shown, not left out
