"""Every route of the web app, for every method and body it can be sent, answers with a page, a
redirect or a refusal that says what happened and what to do next: never a 5xx.

Hypothesis generates the requests (derandomized: every run sends the same ones) against the app
in process, on the real dev server: link pages with valid signed tokens for running, withdrawn,
unknown and foreign escalations and with garbage ones; the console signed in as each role and not;
the codec endpoint; sign-in, accounts and the rest. Bodies are forms, forms with a field twice or
as a file, JSON, raw bytes under any content type, and bodies over the 1 MB cap (declared and
streamed). The escalations are created once for the module. `test_every_family_ran` checks the
total: at least 5,000 requests.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.contacts import Role
from kinds import KINDS
from links.signing import LinkGrant, LinkKeys, sign_link
from payload_codec import EncryptionCodec, parse_keys
from persistence.database import make_engine
from persistence.sent_mail import SentMailLedger
from persistence.users import Users
from service import acting, reading, starting
from settings import ROOT, Settings
from tests.conftest import Inbox, body_text
from tests.helpers import CLAIM, DEREGISTRATION, ICB_L1, OFFICER, example_start, officer
from web.app import create_app
from web.body_limit import MAX_BODY_BYTES

KEYS = f"k1:{base64.b64encode(bytes(range(32))).decode()}"
UI = "http://127.0.0.1:8233"
T = TypeVar("T")
PASSWORDS = {
    "officer": (OFFICER, "another long password"),  # as tests/test_console_auth.py sets them
    "ops": ("ops@lmc.example", "correct horse battery"),
    "admin": ("fuzz-admin@lmc.example", "fuzz admin long password"),
}

# Each family's examples (one request each); they sum to the 5,000 and more the issue asks for.
# Where one example costs the most (a link POST is a workflow update; a dashboard view, late in the suite, a
# visibility page and its counts over every workflow the suite has started) fewer, so the suite keeps its budget.
EXAMPLES = {
    "link_pages": 700,
    "link_posts": 500,
    "console_pages": 100,
    "console_actions": 900,
    "start_forms": 500,
    "accounts": 400,
    "codec": 1200,
    "elsewhere": 1000,
}
assert sum(EXAMPLES.values()) >= 5000


def fuzz(family: str) -> Any:
    return hypothesis_settings(
        max_examples=EXAMPLES[family],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# --- What is sent ---------------------------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "0",
    "-1",
    "007",
    "1e9",
    "12.345",
    "99999",
    "£1,000.00",
    "NaN",
    "inf",
    "on",
    "true",
    "null",
    "[]",
    "{}",
    "9" * 5000,  # past Python's int() digit limit
    "²",  # a digit to str.isdigit(), not to int()
    "١٢",  # Arabic-Indic digits
    "Ⅻ",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "line\r\nBcc: someone@evil.example",
    "\u2028",
    "\u202e\u200b\ufeff",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '"; DROP TABLE user_account; --',
    "943 476 5919",  # an NHS number (valid check digit)
    "９４３４７６５９１９",
    "2027-01-29",
    "2020-02-30",
    "9999-12-31",
    "0001-01-01",
    "2025-13-01",
    "E85011",
    "QKS",
    "ceo@lmc.example",
    "primarycare.contracts@kmicb.example",
    "é" * 40,
    "🙂" * 20,
    "x" * 5000,
    "y" * 200_000,
]
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(ODD))


def mostly(usual: st.SearchStrategy[T], odd: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Usually `usual` (four times in five), now and then `odd`."""
    return st.sampled_from([True, True, True, True, False]).flatmap(lambda usually: usual if usually else odd)


SHORT_TEXT = st.one_of(st.text(max_size=30), st.sampled_from([o for o in ODD if len(o) <= 5000]))  # URLs, headers
ACTIONS = sorted(
    {a for spec in KINDS for actions in spec.parties.values() for a in actions} | {"declare_interest", "nothing"}
)
ACTION = mostly(st.sampled_from(ACTIONS), TEXT)
# Values a person could plausibly type into each field, beside the odd ones: so that forms get past the
# first check often enough to reach the deeper ones (the gate, the builder, the workflow's validator).
PLAUSIBLE: dict[str, list[str]] = {
    "action": ACTIONS,
    "amount": ["100", "100.00", "2,837.00", "£2837", "0", "0.01", "1000000", "-5"],
    "reasons": ["Agreed at the liaison meeting", "Every category breaches the contract", "no"],
    "text": ["Letters KLMC-1701 to KLMC-1709 attached", "G82001", "QKS"],
    "on_date": ["2027-01-29", "2026-12-01", "2020-01-01", "2099-12-31"],
    "groups.0.patients": ["12", "0", "100001"],
    "groups.0.days_off": ["30", "0", "3661"],
    "groups.0.still_off": ["on", ""],
    "groups.0.off_since": ["2025-02-01", "2030-01-01"],
    "groups.7.patients": ["3"],
    "groups.8.patients": ["3"],
    "count.uacr": ["4"],
    "reason": ["Raised in error", "Lost in a mailbox", "no"],
    "how": ["cancel", "terminate", "both"],
    "decision": ["send", "arrived", "maybe"],
    "title": ["Fit notes pushed to practices", "Pathfinder deregistrations", "t"],
    "payer_code": ["QKS", "QRV", "RYJ", "NOPE"],
    "icb_code": ["QRV", "QKS", "RYJ"],
    "trust_code": ["RYJ", "QRV"],
    "provider": ["Maidstone and Tunbridge Wells NHS Trust"],
    "practices": [
        "G82001, G82002",
        "E85011, Brentford Health Centre, Practice Manager, pm.e85011@nhs.example",
        "E85011, Brentford Health Centre, Practice Manager, pm.e85011@nhs.example, 1.05",
        "E85011, Brentford, PM, pm@nhs.example, two",
        "E85011,,,,,,",
        "E85011\nE85011, A, B, c@nhs.example",
    ],
    "period_start": ["2026-07-01", "2026-10-01"],
    "period_end": ["2026-09-30", "2026-06-30"],
    "summary": ["Letters with patient data removed"],
    "lines.0.category": ["fit_note", "onward_referral", "no_such_category"],
    "lines.0.count": ["11", "0", "eleven", "²", "9" * 5000],
    "lines.0.description": ["Fit notes"],
    "lines.0.evidence_refs": ["KLMC-1730, KLMC-1731", ","],
    "lines.7.count": ["1"],
    "rate_year": ["2024/25", "2025/26", "1999/00"],
    "still_off_until": ["2025-03-31", "2020-01-01"],
    "service": ["North West London Pathology"],
    "test": ["uACR"],
    "error_start": ["2024-10-01"],
    "error_end": ["2025-01-31", "2024-01-01"],
    "description": ["Results reported incorrectly"],
    "tariff.0.key": ["patients_reviewed", "bad key!"],
    "tariff.0.label": ["Affected patient reviewed"],
    "tariff.0.rate": ["12.00", "12.345", "free"],
    "return_deadline": ["2030-01-31", "2020-01-01"],
    "year_end_reconciliation_date": ["2031-03-31"],
    "email": ["new.officer@lmc.example", "ops@lmc.example", "not an email"],
    "role": ["officer", "ops", "admin", "root"],
    "disable": ["nobody@lmc.example"],
}
LINK_FIELDS = [
    "action",
    "amount",
    "reasons",
    "text",
    "on_date",
    "groups.0.patients",
    "groups.0.days_off",
    "groups.0.still_off",
    "groups.0.off_since",
    "groups.7.patients",
    "groups.8.patients",
    "count.uacr",
    "count.",
]
CONSOLE_FIELDS = ["action", "reasons", "text", "amount", "on_date", "reason", "how", "message_id", "decision"]
START_FIELDS_BY_KIND = {  # each kind's start form (web/templates/start/)
    "unfunded_claim": [
        "title",
        "payer_code",
        "provider",
        "practices",
        "period_start",
        "period_end",
        "summary",
        "lines.0.category",
        "lines.0.count",
        "lines.0.description",
        "lines.0.evidence_refs",
        "lines.7.count",
    ],
    "deregistration": ["title", "icb_code", "summary", "rate_year", "still_off_until", "practices"],
    "interface_alert": [
        "title",
        "practice_ods",
        "practice_name",
        "practice_email",
        "provider_code",
        "service",
        "category",
        "occurred_on",
        "document_ref",
        "items",
        "what_happened",
        "staff_minutes",
        "risk",
    ],  # fmt: skip
    "pathology_error": [
        "title",
        "trust_code",
        "icb_code",
        "service",
        "test",
        "error_start",
        "error_end",
        "description",
        "tariff.0.key",
        "tariff.0.label",
        "tariff.0.rate",
        "practices",
        "return_deadline",
        "year_end_reconciliation_date",
    ],
}
START_FIELDS = sorted({name for names in START_FIELDS_BY_KIND.values() for name in names})
ACCOUNT_FIELDS = ["email", "password", "role", "disable"]
ALL_FIELDS = sorted({*LINK_FIELDS, *CONSOLE_FIELDS, *START_FIELDS, *ACCOUNT_FIELDS, "csrf"})

CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "",
    "garbage/;;;",
]
ACCEPT = st.sampled_from(
    [
        "text/html,application/xhtml+xml",
        "application/json",
        "*/*",
        "",
        "application/json;q=0.9",
        "text/html, application/json",
    ]
)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"])
WHO = st.sampled_from(["officer", "officer", "ops", "ops", "admin", "anonymous", "garbage"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def value_for(name: str) -> st.SearchStrategy[str]:
    plausible = PLAUSIBLE.get(name, [])
    return mostly(st.sampled_from(plausible), TEXT) if plausible else TEXT


def field_values(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """A form: any of the fields its page has, each plausible or odd, and now and then one it has not."""
    known = st.fixed_dictionaries({}, optional={name: value_for(name) for name in names})
    unknown = st.dictionaries(st.text(max_size=12), TEXT, max_size=2)
    return st.tuples(known, unknown).map(lambda t: {**t[1], **t[0]})


@dataclass(frozen=True)
class Body:
    """A request body: how httpx is to send it. `oversized` bodies are built when sent."""

    kind: str
    form: dict[str, str] = field(default_factory=dict)
    pairs: tuple[tuple[str, str], ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)
    json_value: Any = None
    raw: bytes = b""
    content_type: str = ""

    def kwargs(self) -> dict[str, Any]:
        if self.kind == "form":
            return {"data": self.form}
        if self.kind == "pairs":  # a field more than once
            return {"content": urlencode(self.pairs), "headers": {"content-type": "application/x-www-form-urlencoded"}}
        if self.kind == "files":  # a field as a file
            return {"data": self.form, "files": {k: (f"{k}.txt", v, "text/plain") for k, v in self.files.items()}}
        if self.kind == "json":
            return {"json": self.json_value}
        if self.kind == "raw":
            return {"content": self.raw, "headers": {"content-type": self.content_type}}
        if self.kind == "declared":  # over the cap, with Content-Length
            return {"content": b"reasons=" + b"x" * MAX_BODY_BYTES, "headers": FORM_TYPE}
        if self.kind == "streamed":  # over the cap, chunked: no Content-Length
            return {"content": _chunks(MAX_BODY_BYTES + 65_536), "headers": FORM_TYPE}
        if self.kind == "near":  # under the cap, one field far longer than any form allows
            return {"content": b"action=dispute&reasons=" + b"r" * (MAX_BODY_BYTES - 4096), "headers": FORM_TYPE}
        if self.kind == "big_file":
            return {"files": {"reasons": ("big.bin", b"\0" * (MAX_BODY_BYTES + 1), "application/octet-stream")}}
        return {}


FORM_TYPE = {"content-type": "application/x-www-form-urlencoded"}


async def _chunks(total: int) -> AsyncIterator[bytes]:
    yield b"reasons="
    for _ in range(total // 65_536):
        yield b"z" * 65_536


def bodies(fields: st.SearchStrategy[dict[str, str]], names: list[str]) -> st.SearchStrategy[Body]:
    name = st.one_of(st.sampled_from(names), st.text(max_size=12))
    return st.one_of(
        fields.map(lambda f: Body("form", form=f)),
        st.tuples(fields, name, TEXT, TEXT).map(
            lambda t: Body("pairs", pairs=(*t[0].items(), (t[1], t[2]), (t[1], t[3])))
        ),
        st.tuples(fields, st.dictionaries(name, st.binary(max_size=64), min_size=1, max_size=2)).map(
            lambda t: Body("files", form=t[0], files=t[1])
        ),
        json_values.map(lambda v: Body("json", json_value=v)),
        st.tuples(st.binary(max_size=300), st.sampled_from(CONTENT_TYPES)).map(
            lambda t: Body("raw", raw=t[0], content_type=t[1])
        ),
        st.sampled_from(["declared", "streamed", "near", "big_file", "none"]).map(Body),
    )


# --- Who sends it, and what is checked ----------------------------------------------------------------------------


def signed(keys: LinkKeys, escalation_id: str, recipient: str, role: Role, expires: datetime | None = None) -> str:
    """A link token as the engine signs one (expiring in a month unless told)."""
    expires = expires or datetime.now(UTC) + timedelta(days=30)
    return sign_link(keys, LinkGrant(escalation_id, recipient, role, expires))


class World:
    """The app and what the fuzz sends it: cookies and CSRF tokens per role, link tokens, escalation IDs.

    `running` link tokens stay on a running claim: once a recorded response leaves nothing open to
    that party (or closes the claim), a fresh claim takes its place (`renew`)."""

    def __init__(self, http: httpx.AsyncClient, client: Client, settings: Settings, keys: LinkKeys) -> None:
        self.http, self.client, self.settings, self.keys = http, client, settings, keys
        self.cookies: dict[str, str] = {}
        self.csrf: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.message_ids: list[str] = []
        self.running: dict[str, tuple[str, Role, str]] = {}  # token name -> escalation, role, recipient
        self.ours: list[str] = []  # every escalation the fuzz started: stopped at the end if still running
        self.sent: Counter[str] = Counter()
        self.answers: Counter[tuple[str, int]] = Counter()

    def __repr__(self) -> str:
        return f"World(sent={dict(self.sent)})"

    async def claim(self) -> str:
        escalation_id = await starting.start(self.client, self.settings, CLAIM, example_start(self.settings))
        self.ours.append(escalation_id)
        return escalation_id

    async def renew(self, which: str) -> None:
        escalation_id, role, recipient = self.running[which]
        view = await reading.summary(self.client, escalation_id)
        if view.outcome is None and (view.payer_actions if role is Role.PAYER else view.officer_actions):
            return
        fresh = await self.claim()
        self.running[which] = (fresh, role, recipient)
        self.tokens[which] = signed(self.keys, fresh, recipient, role)

    async def send(
        self,
        family: str,
        method: str,
        path: str,
        *,
        who: str = "anonymous",
        accept: str = "",
        body: Body | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        garbage_cookie: str = "",
    ) -> httpx.Response:
        kwargs = (body or Body("none")).kwargs()
        sent_headers: dict[str, Any] = {**kwargs.pop("headers", {}), **(headers or {})}
        if accept:
            sent_headers["accept"] = accept
        cookie = self.cookies.get(who, "")
        if path == "/logout" and cookie:  # signing out really ends a session: never end the fuzz's own
            cookie = "lmc_session=" + secrets.token_urlsafe(32)
        if who == "garbage":
            cookie = f"lmc_session={garbage_cookie}; lmc_csrf={garbage_cookie}"
        if cookie:  # bytes: any text a browser could send, not only ASCII (no line breaks: servers refuse those)
            sent_headers["cookie"] = re.sub(r"[\r\n]", "", cookie).encode("utf-8")
        response = await self.http.request(method, path, headers=sent_headers, params=params, **kwargs)
        self.http.cookies.clear()  # each request says who sends it; nothing carries over
        self.sent[family] += 1
        self.answers[family, response.status_code] += 1
        check(method, path, response)
        location = response.headers.get("location", "")
        if family == "start_forms" and location.startswith("/console/e/"):  # a generated form started one
            self.ours.append(location.removeprefix("/console/e/"))
        return response


_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</div>', re.S)


def human_message(response: httpx.Response) -> str:
    """What a 4xx says to a person: a JSON refusal's message and next step, or a page's alert."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = response.json()
        return f"{body.get('message', '')} {body.get('next_step', '')}".strip() if body.get("next_step") else ""
    if content_type.startswith("text/html"):
        return re.sub(r"<[^>]+>|\s+", " ", " ".join(_ALERT.findall(response.text))).strip()
    return ""


def check(method: str, path: str, response: httpx.Response) -> None:
    shown = f"{method} {path[:120]}"
    assert response.status_code < 500, f"{shown}: {response.status_code}\n{response.text[:2000]}"
    if response.status_code >= 400 and method != "HEAD":
        assert human_message(response), f"{shown}: {response.status_code} without a message\n{response.text[:2000]}"


def link_path(message_text: str) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/r/[A-Za-z0-9_.-]+)", message_text)
    assert match, message_text
    return match.group(1)


@pytest.fixture(scope="module")
async def world(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings, inbox: Inbox
) -> AsyncIterator[World]:
    client = dev_env.client
    configured = settings.model_copy(update={"payload_keys": KEYS, "payload_key_id": "k1", "dev_mail_browser": True})
    users = Users(make_engine(settings.database))
    for role, (email, password) in PASSWORDS.items():
        users.add(email, role, password)

    app = create_app(configured, client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        world = World(http, client, settings, configured.link_keys)
        payer_claim, officer_claim, console_claim, closed = [await world.claim() for _ in range(4)]
        data = json.loads((ROOT / "examples" / "deregistration_nwl_pathfinder.json").read_text())
        data["practices"] = data["practices"][:1]
        ods = data["practices"][0]["ods"]
        incident = f"PDR-FUZZ-{uuid.uuid4().hex[:6].upper()}"
        prepared = starting.prepare(DEREGISTRATION, settings.escalation_config(), data, incident)
        world.ours.append(await starting.start(client, settings, DEREGISTRATION, prepared))
        practice_link = link_path(body_text((await inbox.wait_for(f"{incident}-{ods}", 1))[0]))
        await inbox.wait_for(closed, 1)
        await acting.respond(client, closed, officer("withdraw", reasons="fuzz: closed before it starts"))
        await client.get_workflow_handle(closed).result()
        await inbox.wait_for(console_claim, 1)

        keys = world.keys
        world.running = {
            "payer_running": (payer_claim, Role.PAYER, ICB_L1),
            "officer_running": (officer_claim, Role.OFFICER, OFFICER),
        }
        world.tokens = {
            "payer_running": signed(keys, payer_claim, ICB_L1, Role.PAYER),
            "officer_running": signed(keys, officer_claim, OFFICER, Role.OFFICER),
            "payer_closed": signed(keys, closed, ICB_L1, Role.PAYER),
            "officer_closed": signed(keys, closed, OFFICER, Role.OFFICER),
            "practice": practice_link.removeprefix("/r/"),
            "unknown": signed(keys, "UWC-2026-NOSUCH", ICB_L1, Role.PAYER),
            "cohort": signed(keys, f"{incident}-C01", ICB_L1, Role.PAYER),  # a part of an escalation, not one
            "incident_as_payer": signed(keys, incident, ICB_L1, Role.PAYER),  # foreign: another payer's
            "practice_role_on_claim": signed(keys, payer_claim, ICB_L1, Role.PRACTICE),
            "observer": signed(keys, payer_claim, ICB_L1, Role.OBSERVER),
            "stranger": signed(keys, payer_claim, "stranger@elsewhere.example", Role.PAYER),
            "not_an_email": signed(keys, payer_claim, "not an email\x00", Role.PAYER),
            "odd_id": signed(keys, "é/../" + "x" * 2000, ICB_L1, Role.PAYER),
            "expired": signed(keys, payer_claim, ICB_L1, Role.PAYER, datetime(2020, 1, 1, tzinfo=UTC)),
            "forged": signed(LinkKeys.single(b"not-our-key"), payer_claim, ICB_L1, Role.PAYER),
        }
        world.ids = {
            "running": console_claim,
            "closed": closed,
            "unknown": "UWC-2026-NOSUCH",
            "cohort": f"{incident}-C01",
            "practice": f"{incident}-{ods}",
            "odd": "é" * 3 + "?x=1#y",
            "long": "U" * 5000,
        }
        ledger = SentMailLedger(make_engine(settings.database))
        world.message_ids = [m.message_id for e in (console_claim, closed) for m in ledger.for_escalation(e)]
        write_mail_samples(configured.mail_dir)

        for role, (email, password) in PASSWORDS.items():
            login_csrf = csrf_in(await http.get("/login"))
            answer = await http.post("/login", data={"email": email, "password": password, "csrf": login_csrf})
            assert answer.status_code == 303, answer.text
            world.cookies[role] = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
            world.csrf[role] = csrf_in(await http.get("/console/start/unfunded_claim"))  # the session's token
            http.cookies.clear()
        yield world

    for escalation_id in world.ours:
        handle = client.get_workflow_handle(escalation_id)
        if (await handle.describe()).close_time is None:
            await handle.terminate(reason="route fuzz over")
    for role, (email, password) in PASSWORDS.items():  # as they were, whatever the fuzz did
        users.add(email, role, password)


def csrf_in(page: httpx.Response) -> str:
    return page.text.split('name="csrf" value="')[1].split('"')[0]


def write_mail_samples(mail_dir: Path) -> None:
    """What /dev/mail shows: a message as the sink stores one, bytes that are no message, an unknown charset."""
    mail_dir.mkdir(parents=True, exist_ok=True)
    sample = EmailMessage()
    sample["Subject"] = "[UWC-2026-FUZZ] a message"
    sample.set_content("See http://127.0.0.1:8000/r/abc.def")
    sample.add_alternative("<p>and in HTML</p>", subtype="html")
    (mail_dir / "fuzz-ok.eml").write_bytes(bytes(sample))
    (mail_dir / "fuzz-garbage.eml").write_bytes(bytes(range(256)) * 4)
    (mail_dir / "fuzz-charset.eml").write_bytes(
        b"Subject: charset\r\nContent-Type: text/html; charset=x-no-such-charset\r\n\r\n<p>\xe9</p>\r\n"
    )


def csrf_field(world: World, who: str, choice: str) -> dict[str, str]:
    """The CSRF field a console form carries: the right token, none, another's, or garbage."""
    if choice == "right":
        return {"csrf": world.csrf.get(who, "")}
    if choice == "other":
        return {"csrf": world.csrf["officer" if who != "officer" else "ops"]}
    if choice == "odd":
        return {"csrf": "é\x00" + "t" * 30}
    return {}


CSRF = st.sampled_from(["right", "right", "right", "missing", "other", "odd"])


# --- The families ---------------------------------------------------------------------------------------------


@fuzz("link_pages")
@given(
    which=mostly(
        st.sampled_from(
            [
                "payer_running",
                "officer_running",
                "practice",
                "payer_closed",
                "unknown",
                "cohort",
                "odd_id",
                "expired",
                "forged",
                "stranger",
                "observer",
                "practice_role_on_claim",
            ]
        ),
        SHORT_TEXT,
    ),
    method=st.sampled_from(["GET", "GET", "GET", "HEAD", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    accept=ACCEPT,
    suffix=st.sampled_from(["", "", "", "", "AA", ".", "%"]),
    tail=st.sampled_from(["", "", "", "", "/", "/extra", "?a=1"]),
)
async def test_link_pages(world: World, which: str, method: str, accept: str, suffix: str, tail: str) -> None:
    token = world.tokens.get(which, which) + suffix
    await world.send("link_pages", method, f"/r/{quote(token, safe='')}{tail}", accept=accept)


LINK_TOKENS = st.sampled_from(
    [
        "payer_running",
        "payer_running",
        "officer_running",
        "officer_running",
        "practice",
        "practice",
        "payer_closed",
        "officer_closed",
        "unknown",
        "cohort",
        "incident_as_payer",
        "practice_role_on_claim",
        "observer",
        "stranger",
        "not_an_email",
        "odd_id",
        "expired",
    ]
)


@fuzz("link_posts")
@given(
    which=LINK_TOKENS,
    action=ACTION,
    fields=field_values(LINK_FIELDS),
    body=mostly(st.none(), bodies(field_values(LINK_FIELDS), LINK_FIELDS)),
    accept=ACCEPT,
)
# A form that cannot be read, on a link still open (whatever state earlier tests left the drawn examples in).
@example(
    which="payer_running",
    action="acknowledge",
    fields={},
    body=Body("raw", raw=b"--xyz\r\nnot a part", content_type="multipart/form-data; boundary=xyz"),
    accept="text/html,application/xhtml+xml",
)
async def test_link_posts(
    world: World, which: str, action: str, fields: dict[str, str], body: Body | None, accept: str
) -> None:
    sent = body or Body("form", form={"action": action, **fields})
    answer = await world.send("link_posts", "POST", f"/r/{world.tokens[which]}", accept=accept, body=sent)
    if answer.status_code == 200 and which in world.running:
        await world.renew(which)  # recorded: if nothing is left open to this party, a fresh claim takes its place


CONSOLE_IDS = mostly(
    st.sampled_from(["running", "running", "closed", "unknown", "cohort", "practice", "odd", "long"]),
    st.text(min_size=1, max_size=20),
)
KIND = mostly(st.sampled_from([spec.name for spec in KINDS]), SHORT_TEXT)


@fuzz("console_pages")
@given(
    who=WHO,
    page=st.sampled_from(
        [
            "/console",
            "/console/e/{id}",
            "/console/report",
            "/console/report.csv",
            "/console/users",
            "/console/start/{kind}",
            "/console/e/{id}/act",
            "/console/nothing",
        ]
    ),
    escalation=CONSOLE_IDS,
    kind=KIND,
    params=st.dictionaries(
        st.sampled_from(
            ["kind", "status", "payer", "overdue", "stalled", "level", "from", "to", "done", "settled", "page", "at"]
        ),
        SHORT_TEXT,
        max_size=5,
    ),
    method=st.sampled_from(["GET", "GET", "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE"]),
    accept=ACCEPT,
    garbage=SHORT_TEXT,
)
# A next-page token that decodes but that no console issued (Temporal's client would retry it for seconds).
@example(
    who="officer",
    page="/console",
    escalation="running",
    kind="unfunded_claim",
    params={"page": "CiQ2YjQxZmU", "at": "50"},
    method="GET",
    accept="text/html,application/xhtml+xml",
    garbage="",
)
# A filter no escalation can match: refused beside the form (422), not answered with an empty list.
@example(
    who="ops",
    page="/console",
    escalation="running",
    kind="unfunded_claim",
    params={"status": "bogus", "level": "9"},
    method="GET",
    accept="text/html,application/xhtml+xml",
    garbage="",
)
async def test_console_pages(
    world: World,
    who: str,
    page: str,
    escalation: str,
    kind: str,
    params: dict[str, str],
    method: str,
    accept: str,
    garbage: str,
) -> None:
    if page.startswith("/console/report"):
        # A report without a payer reads every escalation on the server, and an escalation whose worker has
        # gone (another test's) waits out the query timeout: tests/test_console_auth.py covers that page.
        params["payer"] = params.get("payer") or "FUZZ"
        if params["payer"] in {"QKS", "QRV", "RYJ"}:
            params["payer"] = "FUZZ"
    path = page.format(id=quote(world.ids.get(escalation, escalation), safe=""), kind=quote(kind, safe=""))
    await world.send("console_pages", method, path, who=who, accept=accept, params=params, garbage_cookie=garbage)


@fuzz("console_actions")
@given(
    who=WHO,
    action=st.sampled_from(["act", "act", "terminate", "resend", "held", "held"]),
    escalation=CONSOLE_IDS,
    csrf=CSRF,
    fields=field_values(CONSOLE_FIELDS),
    officer_action=ACTION,
    message=st.one_of(st.integers(0, 5), TEXT),
    body=mostly(st.none(), bodies(field_values(CONSOLE_FIELDS), CONSOLE_FIELDS)),
    accept=ACCEPT,
    garbage=SHORT_TEXT,
)
async def test_console_actions(
    world: World,
    who: str,
    action: str,
    escalation: str,
    csrf: str,
    fields: dict[str, str],
    officer_action: str,
    message: int | str,
    body: Body | None,
    accept: str,
    garbage: str,
) -> None:
    form = {**fields, **csrf_field(world, who, csrf)}
    if action == "act":
        form.setdefault("action", officer_action)
    if action == "held" and isinstance(message, int):
        form["message_id"] = world.message_ids[message % len(world.message_ids)]
        form.setdefault("decision", "arrived")
    path = f"/console/e/{quote(world.ids.get(escalation, escalation), safe='')}/{action}"
    sent = body or Body("form", form=form)
    await world.send("console_actions", "POST", path, who=who, accept=accept, body=sent, garbage_cookie=garbage)


assert set(START_FIELDS_BY_KIND) == {spec.name for spec in KINDS}
START_FORM = KIND.flatmap(
    lambda kind: st.tuples(st.just(kind), field_values(START_FIELDS_BY_KIND.get(kind, START_FIELDS)))
)


@fuzz("start_forms")
@given(
    who=st.sampled_from(["officer", "officer", "officer", "officer", "ops", "admin", "anonymous"]),
    kind_and_fields=START_FORM,
    csrf=st.sampled_from(["right", "right", "right", "right", "missing", "other", "odd"]),
    body=mostly(st.none(), bodies(field_values(START_FIELDS), START_FIELDS)),
    method=st.sampled_from(["POST", "POST", "POST", "POST", "GET", "PUT"]),
    accept=ACCEPT,
)
async def test_start_forms(
    world: World,
    who: str,
    kind_and_fields: tuple[str, dict[str, str]],
    csrf: str,
    body: Body | None,
    method: str,
    accept: str,
) -> None:
    kind, fields = kind_and_fields
    sent = body or Body("form", form={**fields, **csrf_field(world, who, csrf)})
    await world.send("start_forms", method, f"/console/start/{quote(kind, safe='')}", who=who, accept=accept, body=sent)


@fuzz("accounts")
@given(
    route=st.sampled_from(["/login", "/login", "/logout", "/console/users", "/console/users"]),
    method=st.sampled_from(["POST", "POST", "POST", "GET", "HEAD", "PUT", "DELETE"]),
    who=WHO,
    csrf=st.sampled_from(["right", "missing", "missing", "other", "odd"]),
    fields=field_values(ACCOUNT_FIELDS),
    known=st.sampled_from([None, None, None, "ops@lmc.example", "nobody@lmc.example"]),
    body=mostly(st.none(), bodies(field_values(ACCOUNT_FIELDS), ACCOUNT_FIELDS)),
    accept=ACCEPT,
    garbage=SHORT_TEXT,
)
async def test_sign_in_and_accounts(
    world: World,
    route: str,
    method: str,
    who: str,
    csrf: str,
    fields: dict[str, str],
    known: str | None,
    body: Body | None,
    accept: str,
    garbage: str,
) -> None:
    form = {**fields, **csrf_field(world, who, csrf)}
    if known is not None and route != "/console/users":
        form["email"] = known  # an account that exists, with a wrong password (keep these few: Argon2id)
        form.pop("disable", None)
    elif "password" in form and csrf == "right":
        form.pop("password")  # no password, no hashing: the fuzz stays fast
    if route == "/console/users" and form.get("email") in {e for e, _ in PASSWORDS.values()}:
        form["email"] = "someone.else@lmc.example"  # resetting the fuzz's own accounts would end its sessions
    if route == "/console/users" and "disable" in form:
        form["disable"] = form["disable"] if form["disable"] not in {e for e, _ in PASSWORDS.values()} else "x"
    sent = body or Body("form", form=form)
    await world.send("accounts", method, route, who=who, accept=accept, body=sent, garbage_cookie=garbage)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def sealed(text: bytes, tamper: str = "") -> dict[str, Any]:
    """The UI's JSON for one payload sealed with our key, or (`tamper`) one this engine cannot open."""
    [payload] = await EncryptionCodec(parse_keys(KEYS), "k1").encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=text)]
    )
    metadata, data = dict(payload.metadata), payload.data
    if tamper == "flipped":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif tamper == "short":
        data = data[:5]
    elif tamper == "other_key":
        metadata["encryption-key-id"] = b"k9"
    elif tamper == "odd_key":
        metadata["encryption-key-id"] = b"\xff\xfe"
    elif tamper == "not_a_payload":  # sealed properly, but what is inside is not a Payload
        metadata, data = await sealed_raw(b"\xff" * 40)
    return {"payloads": [{"metadata": {k: b64(v) for k, v in metadata.items()}, "data": b64(data)}]}


async def sealed_raw(plaintext: bytes) -> tuple[dict[str, bytes], bytes]:
    nonce = b"\0" * 12
    cipher = AESGCM(parse_keys(KEYS)["k1"])
    return {"encoding": b"binary/encrypted", "encryption-key-id": b"k1"}, nonce + cipher.encrypt(
        nonce, plaintext, b"k1"
    )


PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.dictionaries(
            st.sampled_from(["encoding", "encryption-key-id"]) | st.text(max_size=8),
            st.one_of(
                st.sampled_from([b64(b"binary/encrypted"), b64(b"k1"), b64(b"k9"), b64(b"json/plain"), b64(b"\xff")]),
                st.binary(max_size=16).map(b64),
                TEXT,
            ),
            max_size=3,
        ),
        "data": st.one_of(st.binary(max_size=80).map(b64), TEXT, st.integers()),
    },
)
SEALED = st.sampled_from(["", "flipped", "short", "other_key", "odd_key", "not_a_payload"])


@fuzz("codec")
@given(
    direction=mostly(st.sampled_from(["decode", "encode"]), st.sampled_from(["", "DECODE", "x", "decode/"])),
    method=mostly(st.just("POST"), st.sampled_from(["OPTIONS", "OPTIONS", "GET", "PUT"])),
    who=mostly(st.sampled_from(["ops", "admin"]), WHO),
    namespace=st.sampled_from([True, True, True, False]),
    payloads=st.one_of(
        st.lists(PAYLOAD, max_size=3).map(lambda p: Body("json", json_value={"payloads": p})),
        SEALED.map(lambda tamper: Body("sealed", raw=tamper.encode())),
        bodies(field_values(["payloads"]), ["payloads"]),
        st.binary(max_size=200).map(lambda b: Body("raw", raw=b, content_type="application/json")),
        st.sampled_from([b"[" * 50_000, b'{"payloads": [', b'{"payloads": [{"data": "!!"}]}', b"\xff\xfe"]).map(
            lambda b: Body("raw", raw=b, content_type="application/json")
        ),
    ),
    accept=ACCEPT,
    garbage=SHORT_TEXT,
)
async def test_codec_endpoint(
    world: World,
    direction: str,
    method: str,
    who: str,
    namespace: bool,
    payloads: Body,
    accept: str,
    garbage: str,
) -> None:
    if payloads.kind == "sealed":
        payloads = Body("json", json_value=await sealed(b'{"title": "uACR"}', payloads.raw.decode()))
    headers = {"origin": UI, **({"x-namespace": "default"} if namespace else {})}
    await world.send(
        "codec",
        method,
        f"/codec/{direction}",
        who=who,
        accept=accept,
        body=payloads,
        headers=headers,
        garbage_cookie=garbage,
    )


@fuzz("elsewhere")
@given(
    path=st.one_of(
        st.sampled_from(
            [
                "/",
                "/healthz",
                "/dev/mail",
                "/dev/mail/fuzz-ok.eml",
                "/dev/mail/fuzz-garbage.eml",
                "/dev/mail/fuzz-charset.eml",
                "/dev/mail/..%2Fescalations.db",
                "/dev/mail/a%00.eml",
                "/dev/mail/nothing.eml",
                "/r/",
                "/r",
                "/console/",
                "/codec",
                "/static/x.js",
                "/%ff",
                "//",
            ]
        ),
        st.text(max_size=30).map(lambda t: "/" + quote(t, safe="/")),
    ),
    method=METHODS,
    who=WHO,
    body=mostly(st.none(), bodies(field_values(ALL_FIELDS), ALL_FIELDS)),
    accept=ACCEPT,
    garbage=SHORT_TEXT,
)
async def test_everything_else(
    world: World, path: str, method: str, who: str, body: Body | None, accept: str, garbage: str
) -> None:
    await world.send("elsewhere", method, path, who=who, accept=accept, body=body, garbage_cookie=garbage)


# Answers each family must have drawn: the fuzz reaches past the first check into the gate, the
# workflow's validator and the refusal map, not only bounces off sign-in or the method.
REACHED = {
    "link_pages": {200, 403, 404, 405},
    "link_posts": {200, 400, 403, 404, 409, 413, 422},
    "console_pages": {200, 303, 403, 404, 405, 422},
    "console_actions": {303, 401, 403, 404, 409, 422},
    "start_forms": {200, 403, 404, 422},
    "accounts": {200, 303, 401, 403, 405, 422},
    "codec": {200, 204, 400, 401, 403, 404, 405, 422},
    "elsewhere": {200, 404, 405},
}


async def test_every_family_ran(world: World) -> None:
    if set(world.sent) != set(EXAMPLES):
        pytest.skip(f"only {sorted(world.sent)} ran")
    assert sum(world.sent.values()) >= 5000, world.sent
    for family, wanted in REACHED.items():
        answered = {status for (f, status) in world.answers if f == family}
        assert wanted <= answered, (family, sorted(answered))
