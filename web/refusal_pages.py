"""A refusal as the web shows it: the one place `Refused` becomes an HTTP answer, a page for a
person or a JSON body for a program (asked for by `Accept: application/json`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from service.refusals import Refused, Why
from web.templating import templates

NEXT_STEP: dict[Why, str] = {
    Why.INVALID: "Correct the field named and send it again.",
    Why.NOT_OPEN: "Reload the page to see what can be done now.",
    Why.CLOSED: "Nothing more can be recorded; contact the LMC officer if something is still owed.",
    Why.NOT_FOUND: "Check the reference, or go back to the list of escalations.",
    Why.NOT_PERMITTED: "Ask someone with the right role, or sign in as them.",
    Why.NOT_SIGNED_IN: "Sign in and try again.",
    Why.UNAVAILABLE: "Nothing was recorded. Please try again in a minute.",
}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def refusal_response(request: Request, refused: Refused) -> Response:
    if refused.why is Why.NOT_SIGNED_IN and not wants_json(request):
        return RedirectResponse("/login", status_code=303)
    headers = {"Retry-After": "60"} if refused.why is Why.UNAVAILABLE else None
    if wants_json(request):
        return JSONResponse(refused.as_json(), status_code=refused.http_status, headers=headers)
    context = {"message": refused.message, "fields": refused.fields, "next_step": NEXT_STEP[refused.why]}
    return templates.TemplateResponse(
        request, "refused.html", context, status_code=refused.http_status, headers=headers
    )


async def handle_refused(request: Request, exc: Exception) -> Response:
    """The app's exception handler: a route may simply raise `Refused`."""
    assert isinstance(exc, Refused)
    return refusal_response(request, exc)
