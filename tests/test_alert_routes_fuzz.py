"""The interface alert routes, sent whatever Hypothesis makes (forms with any fields and values, any query),
answer with a page, a redirect or a refusal: never a 5xx. The practice's page is reached with a valid
standing link, a withdrawn one and garbage; the console's pattern view, analysis and claim as an officer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from persistence.database import make_engine
from persistence.practices import PracticeRow, Practices
from persistence.users import Users
from service import practices
from settings import Settings
from tests.helpers import csrf_in, sign_in
from web.app import create_app

FIELDS = [
    "provider_code", "service", "category", "occurred_on", "document_ref", "items", "what_happened",
    "staff_minutes", "risk", "submission", "reference", "text", "payer_code", "alert.IFA-2026-AAAAAA", "csrf",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["", "RWF", "RYJ", "QKS", "onward_referral", "other", "urgent", "2026-11-24", "3", "-1", "9" * 12]),
    st.text(max_size=40),
)
FORMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8)
QUERIES = st.dictionaries(st.sampled_from(["from", "to", "provider"]), VALUES, max_size=3)
FUZZ = settings(max_examples=120, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
async def web(
    time_env: WorkflowEnvironment, time_worker: Worker, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    engine = make_engine(settings.database)
    row = PracticeRow(
        ods="Y09999", name="Fuzz Surgery", email="pm.y09999@practice.example", loaded_at=datetime.now(UTC)
    )
    Practices(engine).upsert(row)
    Users(engine).add("medsec@lmc.example", "officer", "fuzz alerts password")
    page = practices.standing_link(settings, row, datetime.now(UTC)).split("8000", 1)[1]
    app = create_app(settings, time_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await sign_in(http, "medsec@lmc.example", "fuzz alerts password")).status_code == 303
        token = csrf_in(await http.get("/console/alerts"))
        yield http, page, token


@FUZZ
@given(form=FORMS, garbage=st.booleans(), tail=st.sampled_from(["", "/answer"]))
async def test_the_practice_page_never_answers_5xx(
    web: tuple[httpx.AsyncClient, str, str], form: dict[str, str], garbage: bool, tail: str
) -> None:
    http, page, _ = web
    answer = await http.post(page + ("x" if garbage else "") + tail, data=form)
    assert answer.status_code < 500, (form, answer.status_code, answer.text[:300])
    assert answer.status_code in ((403,) if garbage else (200, 404, 409, 422)), answer.status_code


@FUZZ
@given(
    path=st.sampled_from(["/console/alerts", "/console/alerts/analysis", "/console/alerts/analysis.csv"]),
    query=QUERIES,
    form=FORMS,
    post=st.booleans(),
)
async def test_the_console_alert_pages_never_answer_5xx(
    web: tuple[httpx.AsyncClient, str, str], path: str, query: dict[str, str], form: dict[str, str], post: bool
) -> None:
    http, _, token = web
    if post:
        answer = await http.post("/console/alerts/claim", params=query, data={**form, "csrf": token})
    else:
        answer = await http.get(path, params=query)
    assert answer.status_code < 500, (path, query, form, answer.status_code, answer.text[:300])


async def test_a_refused_period_shows_the_page_again_with_the_problem_named(
    web: tuple[httpx.AsyncClient, str, str],
) -> None:
    http, _, _ = web
    answer = await http.get("/console/alerts", params={"from": "2026-06-01", "to": "2026-01-01"})
    assert answer.status_code == 422 and "Those filters were refused" in answer.text
    assert "To: the end of the period is before its start" in answer.text and "input:" not in answer.text
