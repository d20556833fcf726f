"""The web app: the pages behind the email links (here), sign-in, and the routes of the
console (`web/console/`), the codec endpoint and development mail. A refusal anywhere is
answered by `web/refusal_pages.py`, never a 500.

Link pages: GET and HEAD only show the escalation and its forms (mail scanners open every
link); a POST from the page performs the action as a Temporal update, whose validator refuses
anything not allowed now before it reaches history, so the page answers at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from temporalio.client import Client

from domain import wording
from domain.contacts import Role
from domain.form_response import FormResponse, oversized, shown_again
from domain.responses import ResponseOutcome
from links.signing import LinkGrant, LinkRefused, verify_link
from payload_codec import payload_codec
from persistence.database import make_engine
from persistence.revoked_links import RevokedLinks
from service import acting, reading
from service.accounts import Accounts, SessionPolicy
from service.practices import PAGE_PREFIX
from service.refusals import Refused, Why, maybe_reached
from settings import Settings
from temporal_client import connect
from web import signing_in_again
from web.alerts import alert_routes
from web.auth import ConsoleAuth
from web.body_limit import BodyLimit
from web.codec_endpoint import codec_routes
from web.console import console_routes
from web.console.guard import Console, SessionEnded, client_of
from web.console.resubmit import form_again
from web.dev_mail import dev_mail_routes
from web.forms import (
    GROUP_ROWS,
    GROUP_ROWS_SHOWN,
    SUBMISSION,
    plain_line,
    posted_form,
    submission_from_form,
    submitted,
    typed_again,
)
from web.health import health_routes
from web.refusal_pages import EXCEPTION_HANDLERS, RETRY_AFTER_SECONDS, refusal_response, wants_json
from web.security_headers import SecurityHeaders
from web.templating import templates
from web.temporal_budget import RequestBudget, bounded
from workflows.escalation_workflow import CaseView

log = structlog.get_logger(__name__)


MAX_REQUEST_HEAD = 64 * 1024
"""uvicorn's `h11_max_incomplete_event_size` for the app (`run_local.py`; docker-compose's command line says the
same): a request line and headers of up to 64 KB are read, so a long pasted search reaches the app and its plain
refusal rather than uvicorn's own 'Invalid HTTP request received.' (its default is 16 KB)."""


def create_app(settings: Settings, client: Client | None = None) -> Starlette:
    engine = make_engine(settings.database)
    policy = SessionPolicy(idle=settings.session_idle, lifetime=settings.session_lifetime)
    signer = ConsoleAuth(
        Accounts(engine, policy), settings.session_key, secure=settings.base_url.startswith("https://")
    )
    revoked = RevokedLinks(engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Lazy: the app starts (and answers /livez, and 503 elsewhere) while Temporal is down.
        app.state.client = bounded(client or await connect(settings, lazy=True))
        yield

    def link_refused(request: Request, message: str) -> Response:
        context = {"heading": "This link cannot be used", "message": message}
        return templates.TemplateResponse(request, "refused.html", context, status_code=403)

    async def grant_and_case(request: Request) -> tuple[LinkGrant, CaseView] | Response:
        grant = granted(request)
        if isinstance(grant, Response):
            return grant
        return grant, await reading.summary(request.app.state.client, grant.escalation_id)

    def granted(request: Request) -> LinkGrant | Response:
        """The link's grant, or the page that says why it cannot be used (forged, expired, withdrawn)."""
        try:
            grant = verify_link(settings.link_keys, request.path_params["token"])
        except LinkRefused as refused:
            log.info("link_refused", reason=str(refused))
            return link_refused(request, str(refused))
        if grant.escalation_id.startswith(PAGE_PREFIX):  # a practice's standing link, opened at a request's address
            return RedirectResponse(f"/p/{request.path_params['token']}", status_code=303)
        withdrawn = revoked.find(grant.escalation_id, grant.recipient)
        if withdrawn is not None:
            log.info("link_withdrawn", escalation_id=grant.escalation_id)
            instead = f" Please contact {withdrawn.contact_instead}." if withdrawn.contact_instead else ""
            context = {
                "heading": "This link has been withdrawn",
                "message": f"The LMC withdrew this link on {withdrawn.revoked_at:%-d %B %Y}.{instead}",
                "next_step": f"If you still need to respond about {grant.escalation_id}, ask the LMC officer for a new link.",
            }
            return templates.TemplateResponse(request, "refused.html", context, status_code=410)
        return grant

    def page(request: Request, grant: LinkGrant, view: CaseView, status_code: int = 200, **extra: Any) -> Response:
        open_actions = {
            Role.PAYER: view.payer_actions,
            Role.OFFICER: view.officer_actions,
            Role.PRACTICE: view.practice_actions,
        }.get(grant.role, [])
        context = {
            "view": view.read_by(grant.role),
            "grant": grant,
            "actions": open_actions,
            "fields": view.action_fields,
            "group_rows": range(GROUP_ROWS),
            "group_rows_shown": GROUP_ROWS_SHOWN,
            "labels": view.action_labels,
            "form": {},
            "errors": {},
            "refusal": None,
            "recorded": None,
        }
        context.update(extra)
        return templates.TemplateResponse(request, "respond.html", context, status_code=status_code)

    async def show(request: Request) -> Response:
        found = await grant_and_case(request)
        if isinstance(found, Response):
            return found
        grant, view = found
        return page(request, grant, view)

    async def act(request: Request) -> Response:
        """A submitted action. Its form's one-time `submission` id is the update's id, so the same form
        sent twice is recorded once and answered with the first outcome. When the engine cannot be
        reached, the page comes back 503 with the form as typed (same submission id to send again),
        never an error page that loses what was typed."""

        def unrecorded(form: dict[str, str], view: CaseView | None, maybe_recorded: bool | None = None) -> Response:
            grant = verify_link(settings.link_keys, request.path_params["token"])  # verified already
            log.info("response_unavailable", escalation_id=grant.escalation_id)
            message = "Your response was not recorded. Nothing you typed is lost: press the button again in a minute."
            if view is not None if maybe_recorded is None else maybe_recorded:  # sent, not answered: may yet be, once
                message = (
                    "We could not confirm that your response was recorded. Nothing you typed is lost: press the "
                    "button again in a minute; however often you press it, it is recorded only once."
                )
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            if view is not None:
                answer = page(request, grant, view, form=typed_again(form), refusal=message, status_code=503)
                answer.headers.update(headers)
                return answer
            # The escalation could not be read either: every field sent comes back as typed, to send again.
            context = {"view": None, "grant": grant, "form": typed_again(form), "labels": {}, "refusal": message}
            return templates.TemplateResponse(request, "respond.html", context, status_code=503, headers=headers)

        grant = granted(request)
        if isinstance(grant, Response):
            return grant
        form = await posted_form(request)
        client = request.app.state.client
        too_large = oversized(form)
        if too_large:  # never sent: shown again without what is too large to show (or to send)
            return await act_after_reading(request, grant, shown_again(form), unrecorded, Refused.invalid(too_large))
        try:
            submission = submission_from_form(form)
        except Refused:  # not an id this site issued, so not one to send: read the case, refuse every field
            return await act_after_reading(request, grant, form, unrecorded)
        typed = FormResponse(
            form={k: v for k, v in form.items() if k != SUBMISSION}, actor_email=grant.recipient, actor_role=grant.role
        )
        try:  # one round trip: the workflow reads the form by the case's field specs and answers with the case
            outcome, view = await acting.respond_to_form(client, grant.escalation_id, typed, submission)
        except Refused as refused:
            if refused.why is Why.UNAVAILABLE:
                try:
                    now = await reading.summary(client, grant.escalation_id)
                except Refused:
                    now = None
                return unrecorded(form, now, maybe_recorded=maybe_reached(refused))
            if isinstance(refused, acting.SentBefore):  # its values come back to send anew, under a new id
                form = {name: value for name, value in form.items() if name != SUBMISSION}
            # Refused: read the case once to show the page with the refusal (the case may have closed)
            return await act_after_reading(request, grant, form, unrecorded, refused)
        log.info("response_recorded", escalation_id=grant.escalation_id, action=form.get("action", ""))
        if view is None:  # answered again for a submission recorded before the update said how the case stands
            try:
                view = await reading.summary(client, grant.escalation_id)
            except Refused as refused:  # recorded, but the engine did not answer again: say so, offer nothing stale
                if refused.why is not Why.UNAVAILABLE:
                    raise
                return recorded_only(request, grant, outcome)
        return page(request, grant, view, recorded=outcome)

    def recorded_only(request: Request, grant: LinkGrant, outcome: ResponseOutcome) -> Response:
        """Recorded, but the case could not be read to show it: say so, and offer no form that may be stale."""
        return templates.TemplateResponse(request, "recorded.html", {"grant": grant, "recorded": outcome})

    async def act_after_reading(
        request: Request,
        grant: LinkGrant,
        form: dict[str, str],
        unrecorded: Callable[[dict[str, str], CaseView | None], Response],
        refused_by_engine: Refused | None = None,
    ) -> Response:
        """A submission the engine refused (or that could not be sent): the case read once, and the page
        shown with the refusal beside the fields, as `act` always answered."""
        client = request.app.state.client
        try:
            view = await reading.summary(client, grant.escalation_id)
        except Refused as refused:
            if refused.why is not Why.UNAVAILABLE:
                raise
            return unrecorded(form, None)
        refusal = refused_by_engine
        if refusal is None:  # not sent: the form read here, refused for its submission id and any field at fault
            try:
                submitted(form, view.action_fields.get(form.get("action", ""), []), grant.recipient, grant.role)
                refusal = Refused.invalid({SUBMISSION: "not a submission id this site issued"})
            except Refused as refused:
                refusal = refused
        if view.outcome is not None and (refusal.fields or SUBMISSION not in form):  # finished: nothing can be
            ended = wording.outcome(view.outcome)
            refusal = Refused(Why.CLOSED, f"This escalation is closed ({ended}); nothing more can be recorded.")
        log.info("response_refused", escalation_id=grant.escalation_id, why=refusal.why.value)
        if refusal.why is Why.CLOSED:  # no form is offered again
            return page(request, grant, view, actions=[], refusal=refusal.message, status_code=refusal.http_status)
        if refusal.fields:
            return page(
                request, grant, view, form=typed_again(form), errors=refusal.fields, status_code=refusal.http_status
            )
        return page(
            request, grant, view, form=typed_again(form), refusal=refusal.message, status_code=refusal.http_status
        )

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def login_page(
        request: Request, error: str | None = None, status: int = 200, carry: list[tuple[str, str]] | None = None
    ) -> Response:
        context = {"error": error, "csrf": signer.csrf_for(request), "carry": carry or []}
        response = templates.TemplateResponse(request, "login.html", context, status_code=status)
        return signer.login_form_response(request, response)

    async def session_ended(request: Request, exc: Exception) -> Response:
        """A console form sent after its session ended: sign in again, with what was typed carried along."""
        assert isinstance(exc, SessionEnded)
        carry = signing_in_again.carry(exc.path, exc.form)
        if wants_json(request) or not carry:
            return refusal_response(request, exc)
        words = "Your session ended, so nothing was recorded. Sign in again: what you typed is kept, to check and send."
        return await login_page(request, words, 401, carry)

    async def login_form(request: Request) -> Response:
        return await login_page(request)

    async def login(request: Request) -> Response:
        form = await posted_form(request)
        back = signing_in_again.carried(form)
        carry = signing_in_again.carry(*back) if back else []
        if not signer.csrf_ok(request, form.get("csrf", "")):
            return await login_page(request, "The form expired; please try again.", 403, carry)
        email = form.get("email", "")
        if not plain_line(email):
            return await login_page(request, "Email or password not recognised.", 401, carry)
        try:
            signed_in = signer.accounts.sign_in(email, form.get("password", ""), client_of(request))
        except Refused as refused:
            log.info("sign_in_refused", why=refused.why.value)
            status = 429 if refused.why is Why.NOT_PERMITTED else 401
            return await login_page(request, refused.message, status, carry)
        if back is None:
            response: Response = RedirectResponse("/console", status_code=303)
        else:
            path, typed = back
            context = {
                "heading": "Signed in again: check what you typed, then send it",
                "message": "Nothing was recorded when your session ended.",
                "send_again": "It is recorded once, however many times it is sent.",
                **form_again(path, {**typed, "csrf": signed_in.who.csrf}),  # the new session's token
            }
            response = templates.TemplateResponse(request, "resubmit.html", context)
        signer.begin(response, signed_in)
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        signer.end(request, response, client_of(request))
        return response

    async def home(request: Request) -> Response:
        return HTMLResponse("<h1>LMC escalation engine</h1><p>Responses are made through the link in your email.</p>")

    development = dev_mail_routes(settings.mail_dir, templates, signer) if settings.dev_mail_browser else []
    return Starlette(
        routes=[
            *development,
            *console_routes(Console(settings, signer, engine)),
            Route("/", home),
            Route("/healthz", health),
            *health_routes(settings, engine),
            Route("/r/{token}", show, methods=["GET", "HEAD"]),
            Route("/r/{token}", act, methods=["POST"]),
            *alert_routes(settings, engine, signer),
            Route("/login", login_form, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            *codec_routes(payload_codec(settings), signer, settings.temporal_ui_url),
        ],
        middleware=[
            Middleware(SecurityHeaders, base_url=settings.base_url, ui_url=settings.temporal_ui_url),
            Middleware(BodyLimit),
            Middleware(RequestBudget),
        ],
        lifespan=lifespan,
        exception_handlers={**EXCEPTION_HANDLERS, SessionEnded: session_ended},
    )
