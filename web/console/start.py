"""Officers start any kind from its form. The form becomes the same data as the kind's JSON file
and passes the same builder, so validation and field-named errors are the same; on an error the
form comes back with everything typed still in it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kinds import kind, resolve
from kinds.spec import KindSpec
from service import calendar_admin, starting
from service.refusals import Refused, Why
from web.console.guard import OFFICERS, Console
from web.console.resubmit import SEND_AGAIN
from web.forms import posted_form, submission_from_form, typed_again
from web.refusal_pages import RETRY_AFTER_SECONDS, as_unavailable
from web.templating import templates


def form_data(spec: KindSpec, form: dict[str, str], officer_email: str) -> dict[str, Any]:
    """The form as the kind's JSON data. A kind's form reader turns digits into numbers with `int()`,
    which refuses some of what `str.isdigit()` lets through (superscripts such as "²", or more
    digits than Python converts): that is the person's input, refused as such, not a crash.
    (The cause is `kinds/resolve.number`; once it checks `isascii()` and a length, this goes.)"""
    try:
        return spec.form.to_data(form, officer_email)
    except ValueError as err:
        raise Refused(
            Why.INVALID, "A number in the form could not be read: write whole numbers with the digits 0 to 9."
        ) from err


ANYWAY = 'tick "Start another anyway" and press Start again'
"""How the form starts a twin all the same (`starting.OpenTwin`)."""


def routes(console: Console) -> list[Route]:
    settings, signer = console.settings, console.signer

    def page(
        request: Request,
        spec: KindSpec,
        form: dict[str, str],
        error: str | None,
        status: int = 200,
        errors: dict[str, str] | None = None,
        again: bool = False,
    ) -> Response:
        """The form, as typed; a refusal naming fields shows each beside its field, with a summary at the top."""
        config = settings.escalation_config()
        token = signer.csrf_for(request)
        context = {
            "spec": spec,
            "form": form,
            "error": error,
            "errors": errors or {},
            "again": again or form.get("again") == "yes",  # once offered, kept through any later refusal
            "csrf": token,
            **spec.form.context(config),
        }
        response = templates.TemplateResponse(request, "start.html", context, status_code=status)
        return response

    async def start(request: Request) -> Response:
        who = await console.signed_in(request)
        if isinstance(who, Response):
            return who
        spec = kind(request.path_params["kind"])
        if spec is None:
            raise Refused(Why.NOT_FOUND, f"There is no kind of escalation called '{request.path_params['kind']}'.")
        if request.method == "GET":
            return page(request, spec, {}, None)
        form = await posted_form(request)
        if not signer.csrf_ok(request, form.get("csrf", "")):
            return page(request, spec, form, "The form expired; please submit it again.", 403)
        if who.role not in OFFICERS:
            return page(
                request, spec, form, f"{who.email} is signed in as {who.role}; officers start escalations.", 403
            )

        def with_the_rest(refused: Refused, config: Any) -> Refused:
            """The reader's refusal of a practice line it could not read, with what the rest of the form would be
            refused for, so a person sees every refusal at once rather than the lines' and then the others'."""
            if not refused.fields or any(name.partition(".")[0] != "practices" for name in refused.fields):
                return refused
            try:
                rest = form_data(spec, {**form, "practices": ""}, who.email)
                starting.prepare(spec, config, rest)
            except Refused as more:
                placed = resolve.as_typed(more.fields, spec.form.rows(form))
                others = {name: problem for name, problem in placed.items() if not name.startswith("practices")}
                return Refused.invalid({**others, **refused.fields})
            return refused

        def refused_page(refused: Refused, rows: dict[str, list[int]]) -> Response:
            if refused.fields:
                fields = resolve.as_typed(refused.fields, rows)
                return page(request, spec, form, None, refused.http_status, fields)
            return page(request, spec, form, refused.message, refused.http_status)

        try:
            # The form's one-time submission id names the escalation: the form sent twice starts it once.
            reference = starting.escalation_id_for(spec, submission_from_form(form))
            config = calendar_admin.with_calendar(settings.escalation_config(), console.engine)
        except Refused as refused:
            return refused_page(refused, {})
        try:
            data = form_data(spec, form, who.email)
        except Refused as refused:  # the form's reader names the form's own rows
            return refused_page(with_the_rest(refused, config), {})
        try:
            prepared = starting.prepare(spec, config, data, reference)
        except Refused as refused:  # the request's entries: placed back on the rows they were typed in
            return refused_page(refused, spec.form.rows(form))
        try:
            if form.get("again") != "yes":
                client, title = request.app.state.client, str(data["title"])
                await starting.refuse_open_twin(client, spec, prepared, title, "this", ANYWAY)
            escalation_id = await starting.start(
                request.app.state.client,
                settings,
                spec,
                prepared,
                once=True,
                sent=starting.sent_digest(data),
                title=str(data["title"]),
            )
        except starting.OpenTwin as refused:  # asked, not started: ticking the box and sending again starts it
            return page(request, spec, form, refused.message, refused.http_status, again=True)
        except starting.StartedBefore as refused:  # the first values stand; these, under a new id, to send anew
            fresh = {name: value for name, value in form.items() if name != "submission"}
            return page(request, spec, fresh, refused.message, refused.http_status, again=True)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is None:
                raise
            again = page(request, spec, typed_again(form), f"{unavailable.message} {SEND_AGAIN}", 503)
            again.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return again
        return RedirectResponse(f"/console/e/{escalation_id}", status_code=303)

    return [Route("/console/start/{kind}", start, methods=["GET", "POST"])]
