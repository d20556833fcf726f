"""Ops keep the bank-holiday calendar from the console: see the installed version and the holidays ahead,
add one announced holiday, or load gov.uk's `bank-holidays.json` (pasted). Each change goes to the security
and operations log, and every running escalation is told (`service.calendar_admin`); the page says which
deadlines moved."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import calendar_admin
from service.refusals import Refused, Why
from web.console.guard import OPS, Console
from web.templating import templates


def routes(console: Console) -> list[Route]:
    settings, signer = console.settings, console.signer

    def page(
        request: Request, told: calendar_admin.Told | None, error: Refused | None, form: dict[str, str]
    ) -> Response:
        calendar = calendar_admin.show(console.engine)
        today = datetime.now(UTC).date()
        who = signer.read(request)
        context = {
            "who": who,
            "calendar": calendar,
            "ahead": [h for h in calendar.holidays if h.day >= today][:16],
            "told": told,
            "error": error,
            "form": form,
            "may_change": who is not None and who.role in OPS,
            "csrf": signer.csrf_for(request),
        }
        return templates.TemplateResponse(
            request, "calendar.html", context, status_code=error.http_status if error else 200
        )

    async def show(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        return page(request, None, None, {})

    async def change(request: Request) -> Response:
        who, form = await console.posted_by(request, OPS, "only ops staff change the bank-holiday calendar")
        client = request.app.state.client
        try:
            if form.get("govuk_json", "").strip():
                told = await calendar_admin.load_text(
                    console.engine, client, settings.task_queue, form["govuk_json"], who.email, "console"
                )
            else:
                told = await calendar_admin.add(
                    console.engine, client, settings.task_queue, form.get("date", ""), form.get("title", ""), who.email
                )
        except Refused as refused:
            if refused.why is Why.UNAVAILABLE:  # the one refusal map answers 503 with Retry-After
                raise
            return page(request, None, refused, form)
        return page(request, told, None, {})

    return [
        Route("/console/calendar", show, methods=["GET"]),
        Route("/console/calendar", change, methods=["POST"]),
    ]
