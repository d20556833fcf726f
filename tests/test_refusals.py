"""The refusal map: each `Why` is one HTTP status, one JSON body, one CLI exit code; Temporal's
errors become refusals a person can read; and end to end, the CLI and the web refuse acting on a
finished or unknown escalation with a plain message, never a crash or a raw Temporal message."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from structlog.testing import capture_logs
from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from links.signing import LinkGrant, sign_link
from persistence.database import make_engine
from persistence.users import Users
from service import acting, reading, starting
from service.refusals import EXIT_CODE, HTTP_STATUS, Refused, Why, temporal_refusals
from settings import Settings
from starter import one_line
from tests.conftest import Inbox, free_port
from tests.helpers import CLAIM, ICB_L1, example_start, officer
from tests.test_starter_cli import cli_env, run_cli
from web.app import MAX_REQUEST_HEAD, create_app
from web.body_limit import MAX_BODY_BYTES
from web.refusal_pages import NEXT_STEP, next_step, refusal_response

EXPECTED_STATUS = {
    Why.INVALID: 422,
    Why.NOT_OPEN: 409,
    Why.CLOSED: 409,
    Why.NOT_FOUND: 404,
    Why.NOT_PERMITTED: 403,
    Why.NOT_SIGNED_IN: 401,
    Why.EXPIRED: 403,
    Why.MALFORMED: 400,
    Why.WRONG_METHOD: 405,
    Why.TOO_LARGE: 413,
    Why.UNAVAILABLE: 503,
}


def request(accept: str = "text/html") -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/somewhere",
        "headers": [(b"accept", accept.encode())],
        "query_string": b"",
    }
    return Request(scope)


# --- The map, unit by unit ------------------------------------------------------------------------------------


def test_every_why_has_a_status_an_exit_code_and_a_next_step() -> None:
    assert HTTP_STATUS == EXPECTED_STATUS
    assert set(NEXT_STEP) == set(Why) and all(step.strip() for step in NEXT_STEP.values())
    for why in Why:  # README: 2 for anything refused, 3 when the engine cannot be reached
        assert EXIT_CODE[why] == (3 if why is Why.UNAVAILABLE else 2)
        refused = Refused(why, "said")
        assert (refused.http_status, refused.exit_code) == (EXPECTED_STATUS[why], EXIT_CODE[why])
        assert 400 <= refused.http_status < 500 or why is Why.UNAVAILABLE


@pytest.mark.parametrize("why", list(Why))
def test_each_refusal_as_json_says_what_happened_and_what_to_do(why: Why) -> None:
    refused = Refused(why, f"Because {why.value}.", {"field": "problem"} if why is Why.INVALID else None)
    response = refusal_response(request("application/json"), refused)
    assert response.status_code == EXPECTED_STATUS[why]
    body = json.loads(bytes(response.body))
    assert body == {
        "refused": why.value,
        "message": f"Because {why.value}.",
        "fields": {"field": "problem"} if why is Why.INVALID else {},
        "next_step": NEXT_STEP[why],
    }
    assert ("retry-after" in response.headers) is (why is Why.UNAVAILABLE)


@pytest.mark.parametrize("why", list(Why))
def test_each_refusal_as_a_page_says_what_happened_and_what_to_do(why: Why) -> None:
    asked = request("text/html,application/xhtml+xml")
    response = refusal_response(asked, Refused(why, f"Because {why.value}."))
    if why is Why.NOT_SIGNED_IN:  # a person is sent to sign in; a program gets the 401
        assert response.status_code == 303 and response.headers["location"] == "/login"
        return
    assert response.status_code == EXPECTED_STATUS[why]
    page = bytes(response.body).decode()
    assert f'role="alert">Because {why.value}.</div>' in page and next_step(asked, why) in page


def test_unavailable_asks_to_retry_after_a_minute() -> None:
    response = refusal_response(request(), Refused(Why.UNAVAILABLE, "Temporal is down."))
    assert response.status_code == 503 and response.headers["retry-after"] == "60"


def raised(error: BaseException, escalation_id: str = "UWC-2026-ABC123") -> Refused:
    with pytest.raises(Refused) as refused, temporal_refusals(escalation_id):
        raise error
    return refused.value


def test_temporal_errors_become_refusals_in_plain_words() -> None:
    closed = raised(RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b""))
    assert closed.why is Why.CLOSED and closed.message == "UWC-2026-ABC123 has finished; nothing more can be recorded."
    unknown = raised(RPCError("workflow not found for ID: UWC-2026-ABC123", RPCStatusCode.NOT_FOUND, b""))
    assert unknown.why is Why.NOT_FOUND and unknown.message == "There is no escalation UWC-2026-ABC123."
    too_long = raised(RPCError("WorkflowId length exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b""), "U" * 2000)
    assert too_long.why is Why.NOT_FOUND and "limit" not in too_long.message and len(too_long.message) < 200
    down = raised(RPCError("tonic::transport::Error(Transport, ConnectError)", RPCStatusCode.UNAVAILABLE, b""))
    assert down.why is Why.UNAVAILABLE and "tonic" not in down.message
    assert raised(RPCTimeoutOrCancelledError("timed out")).why is Why.UNAVAILABLE
    assert raised(WorkflowQueryRejectedError(None)).why is Why.CLOSED
    part = raised(WorkflowQueryFailedError("Query handler for 'summary' expected but not found, known queries: []"))
    assert part.why is Why.NOT_FOUND and part.message == "UWC-2026-ABC123 is not an escalation."


def update_failed(message: str, kind: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError(message, type=kind))


def test_the_workflows_own_refusals_keep_their_words_and_anything_else_is_put_plainly() -> None:
    not_open = raised(update_failed("'Accept' is not open while this is submitted", "ResponseRefused"))
    assert not_open.why is Why.NOT_OPEN and not_open.message == "'Accept' is not open while this is submitted"
    closed = raised(
        update_failed("This escalation is closed (withdrawn); nothing more can be recorded.", "ResponseRefused")
    )
    assert closed.why is Why.CLOSED
    conflicted = raised(update_failed("you declared an interest in G82001", "ConflictOfInterest"))
    assert conflicted.why is Why.NOT_PERMITTED
    bug = raised(update_failed("'NoneType' object has no attribute 'level'", "AttributeError"))
    assert bug.why is Why.NOT_OPEN and "NoneType" not in bug.message


def test_the_cli_prints_a_refusal_on_one_line() -> None:
    assert one_line("first\nsecond\r\n  third") == "first second third"
    assert len(one_line("x" * 5000)) == 300


# --- End to end -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def closed_claim(dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox) -> str:
    """A claim withdrawn by its officer: its workflow has completed."""
    escalation_id = await starting.start(dev_env.client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(escalation_id, 1)
    await acting.respond(dev_env.client, escalation_id, officer("withdraw", reasons="refusal tests: withdrawn"))
    await dev_env.client.get_workflow_handle(escalation_id).result()
    return escalation_id


@pytest.fixture
async def web(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    users = Users(make_engine(settings.database))
    users.add("ceo@lmc.example", "officer", "another long password")
    users.add("ops@lmc.example", "ops", "correct horse battery")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


def csrf_in(page: httpx.Response) -> str:
    return page.text.split('name="csrf" value="')[1].split('"')[0]


async def signed_in(http: httpx.AsyncClient, email: str, password: str) -> None:
    token = csrf_in(await http.get("/login"))
    answer = await http.post("/login", data={"email": email, "password": password, "csrf": token})
    assert answer.status_code == 303, answer.text


async def test_the_cli_refuses_acting_on_a_closed_claim_with_one_line(
    dev_env: WorkflowEnvironment, settings: Settings, closed_claim: str
) -> None:
    env = cli_env(dev_env, settings)
    for command in (["dispute", closed_claim, "--reasons", "Too late"], ["accept-offer", closed_claim]):
        code, out, err = await run_cli(env, *command)
        assert code == 2, (command, out, err)
        [line] = err.strip().splitlines()
        assert line.startswith("Refused:") and "closed (withdrawn by the LMC)" in line and "Traceback" not in err


async def test_the_cli_refuses_an_unknown_escalation_with_one_line(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    env = cli_env(dev_env, settings)
    for command in (["withdraw", "UWC-2026-NOSUCH", "--reasons", "Raised in error"], ["show", "UWC-2026-NOSUCH"]):
        code, _, err = await run_cli(env, *command)
        assert code == 2, err
        assert err.strip() == "Refused: There is no escalation UWC-2026-NOSUCH."


async def test_the_cli_says_when_the_engine_cannot_be_reached(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    env = {**cli_env(dev_env, settings), "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    code, _, err = await run_cli(env, "show", "UWC-2026-NOSUCH")
    assert code == 3, err
    [line] = err.strip().splitlines()
    assert line == "Error: cannot reach the escalation engine at 127.0.0.1:1. Nothing was recorded."


async def test_a_console_action_on_a_finished_escalation_is_refused_409_saying_so(
    web: httpx.AsyncClient, closed_claim: str
) -> None:
    await signed_in(web, "ceo@lmc.example", "another long password")
    token = csrf_in(
        await web.get("/console/start/unfunded_claim")
    )  # the session's token (a finished page has no forms)
    answer = await web.post(
        f"/console/e/{closed_claim}/act", data={"action": "dispute", "reasons": "Too late", "csrf": token}
    )
    assert answer.status_code == 409
    assert "This escalation has finished" in answer.text
    assert f"{closed_claim} has finished (withdrawn); nothing more can be recorded." in answer.text
    as_json = await web.post(
        f"/console/e/{closed_claim}/act",
        data={"action": "dispute", "reasons": "Too late", "csrf": token},
        headers={"accept": "application/json"},
    )
    assert as_json.status_code == 409 and as_json.json()["refused"] == "closed"
    unknown = await web.post(
        "/console/e/UWC-2026-NOSUCH/act", data={"action": "withdraw", "reasons": "x", "csrf": token}
    )
    assert unknown.status_code == 404 and "There is no escalation UWC-2026-NOSUCH" in unknown.text

    await signed_in(web, "ops@lmc.example", "correct horse battery")
    token = csrf_in(await web.get("/console/start/unfunded_claim"))
    for action in ("resend", "terminate"):
        form = {"reason": "Lost mail", "how": "terminate", "confirm": "yes", "csrf": token}
        answer = await web.post(f"/console/e/{closed_claim}/{action}", data=form)
        assert answer.status_code == 409 and "has finished" in answer.text, (action, answer.text)
    for action in ("resend", "terminate"):  # ops' actions on an unknown escalation
        form = {"reason": "Lost mail", "how": "terminate", "confirm": "yes", "csrf": token}
        unknown = await web.post(f"/console/e/UWC-2026-NOSUCH/{action}", data=form)
        assert unknown.status_code == 404 and "There is no escalation UWC-2026-NOSUCH" in unknown.text, action


async def test_a_link_post_to_a_withdrawn_escalation_is_refused_409_without_a_form(
    web: httpx.AsyncClient, settings: Settings, closed_claim: str
) -> None:
    grant = LinkGrant(closed_claim, ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
    path = f"/r/{sign_link(settings.link_keys, grant)}"
    for form in ({"action": "accept"}, {"action": "accept_part", "amount": "12.345"}, {}):
        answer = await web.post(path, data=form)
        assert answer.status_code == 409, answer.text
        assert "closed (withdrawn by the LMC)" in answer.text and "<form" not in answer.text
    unknown = LinkGrant("UWC-2026-NOSUCH", ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
    answer = await web.post(f"/r/{sign_link(settings.link_keys, unknown)}", data={"action": "accept"})
    assert answer.status_code == 404 and "There is no escalation UWC-2026-NOSUCH" in answer.text


async def test_bodies_the_pages_never_send_are_refused_in_words(
    web: httpx.AsyncClient, settings: Settings, closed_claim: str
) -> None:
    grant = LinkGrant(closed_claim, ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=1))
    path = f"/r/{sign_link(settings.link_keys, grant)}"
    huge = await web.post(
        path, content=b"reasons=" + b"x" * MAX_BODY_BYTES, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert huge.status_code == 413 and "larger than the 1 MB" in huge.text

    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 65_536

    chunked = await web.post(
        path,
        content=streamed(),
        headers={"accept": "application/json", "content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413 and chunked.json()["refused"] == "too_large"
    twice = await web.post(
        path, content="action=accept&action=reject", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert twice.status_code == 422 and "action: sent more than once" in twice.text
    as_file = await web.post(path, files={"action": ("a.txt", b"accept", "text/plain")})
    assert as_file.status_code == 422 and "action: a file was sent" in as_file.text
    broken = await web.post(path, content=b"--x\r\n", headers={"content-type": "multipart/form-data"})
    assert broken.status_code == 400 and "could not be read" in broken.text and "boundary" not in broken.text
    crowded = await web.post(path, files={f"f{n}": (None, "1") for n in range(1_001)})
    assert crowded.status_code == 400 and "more fields than any of our forms sends" in crowded.text
    assert "Maximum number" not in crowded.text  # Starlette's words are logged for ops, not shown
    wrong = await web.put(path)
    assert (
        wrong.status_code == 405
        and "does not take that kind of request" in wrong.text
        and "GET" in wrong.headers["allow"]
    )
    nowhere = await web.get("/no/such/page", headers={"accept": "application/json"})
    assert nowhere.status_code == 404 and nowhere.json()["message"] == "There is no page at this address."


async def test_the_codec_endpoint_refuses_what_it_cannot_read_as_json_the_ui_can_show(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    await signed_in(web, "ops@lmc.example", "correct horse battery")
    headers = {"x-namespace": "default", "content-type": "application/json"}
    for body in (b"{not json", b"\xff\xfe", b'{"payloads": 3}', b"[" * 100_000):
        answer = await web.post("/codec/decode", content=body, headers=headers)
        assert answer.status_code == 400, (body[:20], answer.text)
        assert answer.json()["refused"] == "malformed" and "payloads" in answer.json()["message"]
        assert answer.headers["access-control-allow-origin"] == settings.temporal_ui_url
    assert (await web.post("/codec/neither", content=b"{}", headers=headers)).status_code == 404


async def test_a_crash_stays_a_500_that_is_logged_without_what_was_sent(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    async def boom(request: Request) -> Response:
        raise KeyError(f"personal {(await request.body()).decode()}")

    app = create_app(settings, dev_env.client)
    app.add_route("/boom", boom, methods=["POST"])
    async with app.router.lifespan_context(app):
        quiet = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=quiet, base_url="http://t") as http:
            with capture_logs() as logs:
                answer = await http.post("/boom", content=b"Patient Jane Doe")
        assert answer.status_code == 500 and "Something went wrong on our side" in answer.text
        [crash] = [entry for entry in logs if entry["event"] == "request_crashed"]
        assert crash["error"] == "KeyError" and crash["path"] == "/boom" and "Jane" not in str(crash)
        loud = httpx.ASGITransport(app=app)  # the tests see the crash itself: it is not swallowed
        async with httpx.AsyncClient(transport=loud, base_url="http://t") as http:
            with pytest.raises(KeyError):
                await http.post("/boom", content=b"x")


async def test_an_oversized_body_over_a_real_socket_gets_its_413_not_a_reset(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The server stops reading at the cap: what was sent beyond it is drained so the client reads the 413."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, dev_env.client),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD,  # as run_local.py serves it
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        # A long pasted search, its request line arriving in pieces as a network delivers it: the app's refusal,
        # not uvicorn's 'Invalid HTTP request received.' (past its default 16 KB).
        reader, writer = await asyncio.open_connection("127.0.0.1", server.config.port)
        head = f"GET /login?q={'E87001+' * 4000} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        for n in range(0, len(head), 4096):
            writer.write(head[n : n + 4096])
            await writer.drain()
            await asyncio.sleep(0.01)
        raw = (await reader.read()).decode(errors="replace")
        writer.close()
        assert raw.startswith("HTTP/1.1 200") and "Invalid HTTP request" not in raw, raw[:200]
        url = f"http://127.0.0.1:{server.config.port}/login"
        body = b"email=" + b"x" * (3 * MAX_BODY_BYTES)
        chunks = [body[i : i + 65_536] for i in range(0, len(body), 65_536)]
        async with httpx.AsyncClient(timeout=30) as http:
            for content in (body, chunks):  # with Content-Length, then chunked
                sent = content if isinstance(content, bytes) else iter_async(content)
                answer = await http.post(
                    url, content=sent, headers={"content-type": "application/x-www-form-urlencoded"}
                )
                assert answer.status_code == 413 and "larger than the 1 MB" in answer.text
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def iter_async(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_an_escalation_too_large_to_show_is_refused_as_such_not_as_a_moments_outage(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> None:
    """A claim recorded before the gate held claims to 100 lines (here started past it, as one was): its answers
    are past Temporal's 2 MB, for good. Said so, not 'try again in a minute' (503) as for an engine away."""
    longest = {
        "category": "other",
        "count": 1_000_000,
        "unit_rate_pence": 1_000,
        "description": "Work moved onto practices without funding. " * 11,
        "evidence_refs": [f"KLMC-{n:04d}-" + "R" * 54 for n in range(50)],
    }
    widest = example_start(settings, lines=[longest] * 100)  # the most a claim may be, as submitted
    eid = await starting.start(dev_env.client, settings, CLAIM, widest)
    assert len((await reading.summary(dev_env.client, eid)).report_lines) > 0  # still shown and answered
    await dev_env.client.get_workflow_handle(eid).terminate("test over")

    start = example_start(settings)
    many = start.claim.model_copy(update={"lines": start.claim.lines * 1_400})
    start = start.model_copy(update={"claim": many})
    eid = await starting.start(dev_env.client, settings, CLAIM, start)
    await inbox.wait_for(eid, 1)
    with pytest.raises(Refused) as refused:
        await reading.summary(dev_env.client, eid)
    assert refused.value.why is Why.INVALID and "larger than it can carry" in str(refused.value)
    await dev_env.client.get_workflow_handle(eid).terminate("test over")
