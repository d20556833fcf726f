"""Patient data never gets in: on every free-text path a person can use (start forms, a JSON file
through the CLI, link pages, officers' notes, conflict declarations, ops' reasons, accounts), an NHS
number in any dress is refused with a 4xx (or exit 2) naming the field, and afterwards the digits
appear in no Temporal history, no database table, no email and no log line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, text
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from links.signing import LinkGrant, sign_link
from persistence.database import make_engine
from persistence.users import Users
from service import starting
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import CLAIM, ICB_L1, csrf_of, example_data, example_start, run_starter, sign_in
from web.app import create_app

PLAIN = "9434765919"  # a valid NHS number (the NHS's own example)
DRESSES = [
    "943 476 5919",
    "943.476.5919",
    "943\u00a0476\u00a05919",  # non-breaking spaces
    "943\u2013476\u20135919",  # en dashes
    "94\u200b34\u200b76\u200b59\u200b19",  # zero-width spaces
    "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",  # full-width digits
    "9434/765/919",
    "943\t476\n5919",
]
FORMS_OF_THE_NUMBER = [PLAIN, "943 476 5919", "943-476-5919", *DRESSES]


def dressed(i: int) -> str:
    return f"Patient {DRESSES[i % len(DRESSES)]} was sent back to us"


@pytest.fixture
async def app_client(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    users = Users(make_engine(settings.database))
    users.add("ceo@lmc.example", "officer", "ig test officer password")
    users.add("ig-ops@lmc.example", "ops", "ig test ops password")
    users.add("ig-admin@lmc.example", "admin", "ig test admin password")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def signed_in(http: httpx.AsyncClient, email: str, password: str) -> None:
    http.cookies.clear()
    assert (await sign_in(http, email, password)).status_code == 303


def refused_naming(response: httpx.Response, field: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert field in response.text, (field, response.text[:2000])  # the form itself comes back as typed


async def test_an_nhs_number_in_any_dress_is_refused_on_every_path_and_stored_nowhere(
    app_client: httpx.AsyncClient,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    inbox: Inbox,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    http = app_client
    began = datetime.now(UTC) - timedelta(seconds=1)
    client = dev_env.client
    eid = await starting.start(client, settings, CLAIM, example_start(settings))
    await inbox.wait_for(eid, 1)

    # Start forms, as an officer: the claim's free text, an incident's description, a practice's contact.
    await signed_in(http, "ceo@lmc.example", "ig test officer password")
    token = await csrf_of(http, "/console/start/unfunded_claim")
    claim_form = {
        "csrf": token, "title": "Onward referrals", "payer_code": "QKS", "provider": "Kent trusts",
        "practices": "G82001", "period_start": "2026-04-01", "period_end": "2026-06-30",
        "lines.0.category": "onward_referral", "lines.0.count": "3",
    }  # fmt: skip
    for n, field in enumerate(("summary", "title", "provider", "lines.0.description", "lines.0.evidence_refs")):
        refused_naming(await http.post("/console/start/unfunded_claim", data={**claim_form, field: dressed(n)}), field)
    token = await csrf_of(http, "/console/start/deregistration")
    dereg_form = {
        "csrf": token,
        "title": "Pathfinder",
        "icb_code": "QKS",
        "rate_year": "2025/26",
        "still_off_until": "2026-03-31",
    }
    bad_contact = f"G82001, Ash Surgery, {dressed(2)}, pm@ash.example"
    refused_naming(
        await http.post("/console/start/deregistration", data={**dereg_form, "practices": bad_contact}), "contact_name"
    )
    bad_email = "G82001, Ash Surgery, Pat Manager, 9434765919@ash.example"
    refused_naming(
        await http.post("/console/start/deregistration", data={**dereg_form, "practices": bad_email}), "contact_email"
    )

    # A JSON file through the CLI: exit 2, the field named, nothing started.
    start_file = tmp_path / "claim.json"
    start_file.write_text(json.dumps(example_data(title=f"Referrals for {DRESSES[5]}")))
    code, out, err = await run_starter(settings, "start-claim", str(start_file), client=dev_env.client)
    assert code == 2 and "title" in err and "NHS number" in err and not out.strip(), (code, out, err)

    # The ICB's link page: a counter-offer's reasons, a question.
    grant = LinkGrant(eid, ICB_L1, Role.PAYER, datetime.now(UTC) + timedelta(days=30))
    link = f"/r/{sign_link(settings.link_keys, grant)}"
    offer = {"action": "accept_part", "amount": "100.00", "reasons": dressed(3)}
    refused_naming(await http.post(link, data=offer), "reasons")
    refused_naming(await http.post(link, data={"action": "request_info", "text": dressed(4)}), "text")

    # The officer's own notes and a conflict declaration, from the console.
    token = await csrf_of(http, f"/console/e/{eid}")
    act = f"/console/e/{eid}/act"
    refused_naming(await http.post(act, data={"csrf": token, "action": "withdraw", "reasons": dressed(5)}), "reasons")
    declaration = {"csrf": token, "action": "declare_interest", "text": "G82001", "reasons": dressed(6)}
    refused_naming(await http.post(act, data=declaration), "reasons")

    # Ops' reasons for stopping and resending.
    await signed_in(http, "ig-ops@lmc.example", "ig test ops password")
    token = await csrf_of(http, f"/console/e/{eid}")
    stop = {"csrf": token, "reason": dressed(7), "how": "terminate"}
    refused_naming(await http.post(f"/console/e/{eid}/terminate", data=stop), "reason")
    refused_naming(await http.post(f"/console/e/{eid}/resend", data={"csrf": token, "reason": dressed(0)}), "reason")

    # Accounts: an address whose local part is an NHS number.
    await signed_in(http, "ig-admin@lmc.example", "ig test admin password")
    token = await csrf_of(http, "/console/users")
    account = {"csrf": token, "email": "943-476-5919@lmc.example", "role": "officer", "password": "long enough pass"}
    refused_naming(await http.post("/console/users", data=account), "email")

    # The escalation is still running, untouched by any of it.
    view = await client.get_workflow_handle(eid).describe()
    assert view.status is not None and view.status.name == "RUNNING"

    # Nowhere: Temporal histories started since the test began, every table, every email, every log line.
    haystacks: list[str] = []
    async for execution in client.list_workflows(f"StartTime >= '{began.isoformat()}'"):
        history = await client.get_workflow_handle(execution.id).fetch_history()
        haystacks.append(history.to_json())
    engine = make_engine(settings.database)
    with engine.connect() as db:
        for table in inspect(db).get_table_names():
            haystacks.extend(str(row) for row in db.execute(text(f'SELECT * FROM "{table}"')))
    haystacks.extend(message.as_string() for message in inbox.messages)
    logs = capfd.readouterr()
    haystacks.extend([logs.out, logs.err])
    assert sum(eid in haystack for haystack in haystacks) >= 4, "history, audit rows, sent mail and logs were searched"
    for haystack in haystacks:
        flat = haystack.replace("\\u00a0", "\u00a0")
        for form in FORMS_OF_THE_NUMBER:
            assert form not in flat, f"found {form!r} in {haystack[:200]!r}"
