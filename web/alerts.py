"""The practice's own alert page, behind its standing link (`/p/<token>`, sent when the LMC loads its
practices): report an alert in under a minute, and see every alert the practice has reported with the
provider's answers. No account: the signed link is the practice's key, withdrawn like any other link.

GET and HEAD only show the page (mail scanners open every link); a POST reports one alert. A refusal
comes back with the error beside its field and everything typed kept; when the engine cannot be
reached, 503 with the form as typed and the same submission id, so sending it again reports it once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.contacts import Role
from domain.interface_alert import STATE_WORDS
from domain.working_days import london_date
from kinds import BY_NAME
from links.signing import LinkGrant, LinkRefused, verify_link
from persistence.practices import PracticeRow, Practices
from persistence.revoked_links import RevokedLinks
from service import alerts
from service.practices import parse_link_id
from service.refusals import Refused, Why
from settings import Settings
from web.auth import ConsoleAuth
from web.console import alerts as console_alerts
from web.console.guard import Console
from web.forms import posted_form, submission_from_form, typed_again
from web.refusal_pages import RETRY_AFTER_SECONDS
from web.templating import templates

log = structlog.get_logger(__name__)


def alert_routes(settings: Settings, engine: Engine, signer: ConsoleAuth) -> list[Route]:
    """The practice's page, and the console's alert pages (`web/console/alerts.py`)."""
    practices = Practices(engine)
    revoked = RevokedLinks(engine)

    def refused_page(request: Request, heading: str, message: str, status: int) -> Response:
        return templates.TemplateResponse(
            request, "refused.html", {"heading": heading, "message": message}, status_code=status
        )

    def practice_of(request: Request) -> tuple[LinkGrant, PracticeRow] | Response:
        try:
            grant = verify_link(settings.link_keys, request.path_params["token"])
        except LinkRefused as refused:
            return refused_page(request, "This link cannot be used", str(refused), 403)
        bound = parse_link_id(grant.escalation_id)
        if grant.role is not Role.PRACTICE or bound is None:
            return refused_page(request, "This link cannot be used", "This is not a practice's alert link.", 403)
        ods, generation = bound
        practice = practices.get(ods)
        withdrawn = revoked.find(grant.escalation_id, grant.recipient)
        if (
            practice is None
            or not practice.active
            or withdrawn is not None
            or practice.email != grant.recipient
            or practice.link_generation != generation
        ):
            return refused_page(
                request,
                "This link has been withdrawn",
                "The LMC has replaced or withdrawn this link. Ask the LMC office for your practice's current link.",
                410,
            )
        return grant, practice

    async def page(request: Request, practice: PracticeRow, status_code: int = 200, **extra: Any) -> Response:
        config = settings.escalation_config()
        context: dict[str, Any] = {
            **BY_NAME["interface_alert"].form.context(config),
            "practice": practice,
            "form": {"occurred_on": london_date(datetime.now(UTC)).isoformat()},
            "errors": {},
            "refusal": None,
            "reported": None,
            "alerts": [],
            "answers": alerts.answers,
            "state_words": STATE_WORDS,
            "provider_names": {o.code: o.name for o in config.organisations},
            "answering": None,
            "answer_form": {},
            "answer_error": None,
            "answered": None,
            "page_path": f"/p/{request.path_params['token']}",
        }
        context.update(extra)
        try:
            context["alerts"] = await alerts.for_practice(request.app.state.client, engine, practice.ods)
        except Refused:
            context["alerts_unavailable"] = True
        return templates.TemplateResponse(request, "alerts/practice.html", context, status_code=status_code)

    async def show(request: Request) -> Response:
        found = practice_of(request)
        if isinstance(found, Response):
            return found
        return await page(request, found[1])

    async def report(request: Request) -> Response:
        found = practice_of(request)
        if isinstance(found, Response):
            return found
        _, practice = found
        form = await posted_form(request)
        try:
            submission = submission_from_form(form)
            reference = await alerts.report(request.app.state.client, settings, engine, practice, form, submission)
        except Refused as refused:
            log.info("alert_refused", practice=practice.ods, why=refused.why.value)
            kept = typed_again(form)
            if refused.why is Why.UNAVAILABLE:
                answer = await page(request, practice, 503, form=kept, refusal=refused.message)
                answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return answer
            if refused.fields:
                return await page(request, practice, refused.http_status, form=kept, errors=refused.fields)
            return await page(request, practice, refused.http_status, form=kept, refusal=refused.message)
        log.info("alert_reported", practice=practice.ods, reference=reference)
        # The next alert is often from the same clinic on the same day: those stay filled in, nothing else.
        kept = {name: form.get(name, "") for name in ("provider_code", "service", "occurred_on")}
        return await page(request, practice, reported=reference, form=kept)

    async def answer(request: Request) -> Response:
        """The practice answers a provider's question from its own page (as it can from the emailed link)."""
        found = practice_of(request)
        if isinstance(found, Response):
            return found
        _, practice = found
        form = await posted_form(request)
        reference = form.get("reference", "")
        try:
            said = await alerts.practice_answers(
                request.app.state.client, engine, practice, reference, form.get("text", ""), submission_from_form(form)
            )
        except Refused as refused:
            log.info("alert_answer_refused", practice=practice.ods, why=refused.why.value)
            status = refused.http_status
            answer = await page(request, practice, status, answering=reference, answer_form=typed_again(form),
                                answer_error=refused.message)  # fmt: skip
            if refused.why is Why.UNAVAILABLE:
                answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return answer
        return await page(request, practice, answered=said)

    return [
        *console_alerts.routes(Console(settings, signer, engine)),
        Route("/p/{token}/answer", answer, methods=["POST"]),
        Route("/p/{token}", show, methods=["GET", "HEAD"]),
        Route("/p/{token}", report, methods=["POST"]),
    ]
