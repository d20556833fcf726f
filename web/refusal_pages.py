"""A refusal as the web shows it: the one place `Refused` becomes an HTTP answer, a page for a
person or a JSON body for a program (asked for by `Accept: application/json`).

What Starlette itself refuses (no such page, a method the page does not take, a form it cannot
read) and the engine being unreachable (Temporal or the database: 503 with Retry-After) are put
as refusals too, so every 4xx says what happened and what to do next. Any other exception is a
bug: it is logged and stays a 500, raised on to the server's log and to the tests, never turned
into a refusal.
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from service.refusals import Refused, Why, never_connected
from web.templating import templates

log = structlog.get_logger(__name__)

NEXT_STEP: dict[Why, str] = {
    Why.INVALID: "Correct the field named and send it again.",
    Why.NOT_OPEN: "Reload the page to see what can be done now.",
    Why.CLOSED: "Nothing more can be recorded; contact the LMC officer if something is still owed.",
    Why.NOT_FOUND: "Check the reference, or go back to the list of escalations.",
    Why.NOT_PERMITTED: "Ask someone with the right role, or sign in as them.",
    Why.NOT_SIGNED_IN: "Sign in and try again.",
    Why.EXPIRED: "Reload the page, then send the form again.",
    Why.MALFORMED: "Nothing was recorded. Send it again from the page (or program) it came from.",
    Why.WRONG_METHOD: "Open the page and use its buttons; nothing was recorded.",
    Why.TOO_LARGE: "Shorten what you typed (refer to evidence by reference, do not paste it) and send it again.",
    Why.UNAVAILABLE: "Nothing was recorded. Please try again in a minute.",
}

LINK_NOT_FOUND = (
    "Check that the whole link from your email was used (some email programs split long links over two lines), "
    "or reply to the email to ask the LMC for a new one."
)
"""The next step for someone who came by an emailed link: an ICB or trust manager has no list of escalations."""


def next_step(request: Request, why: Why) -> str:
    if why is Why.NOT_FOUND and not request.url.path.startswith(("/console", "/login")):
        return LINK_NOT_FOUND
    return NEXT_STEP[why]


HEADINGS: dict[Why, str] = {
    Why.CLOSED: "This escalation has finished",
    Why.NOT_FOUND: "Not found",
    Why.NOT_SIGNED_IN: "Please sign in",
    Why.UNAVAILABLE: "Please try again in a minute",
}

# What Starlette raises, by status: each is one of the refusals above, in words.
_FROM_HTTP: dict[int, tuple[Why, str]] = {
    400: (Why.MALFORMED, "The request could not be read: its form or body is malformed."),
    404: (Why.NOT_FOUND, "There is no page at this address."),
    405: (Why.WRONG_METHOD, "This page does not take that kind of request."),
    413: (Why.TOO_LARGE, "What was sent is too large."),
}

_UNREADABLE = {
    "exceeded maximum size": "One of its fields was longer than any of our forms takes.",
    "Too many fields": "It had more fields than any of our forms sends.",
    "Too many files": "It had more files attached than any of our forms takes.",
}
"""What Starlette says of a form it cannot read, in a person's words; anything else it says is logged, not shown."""

# Temporal cannot be reached or is overloaded: nothing was recorded, try again (503, Retry-After).
_UNREACHABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.ABORTED,
}
RETRY_AFTER_SECONDS = 60


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def refusal_json(refused: Refused) -> dict[str, object]:
    """The JSON body of a refusal: what happened (`message`, `fields`) and what to do next."""
    return {**refused.as_json(), "next_step": NEXT_STEP[refused.why]}


def refusal_response(
    request: Request, refused: Refused, headers: dict[str, str] | None = None, as_json: bool | None = None
) -> Response:
    json_wanted = wants_json(request) if as_json is None else as_json
    if refused.why is Why.NOT_SIGNED_IN and not json_wanted:
        return RedirectResponse("/login", status_code=303)
    headers = dict(headers or {})
    if refused.why is Why.UNAVAILABLE:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if json_wanted:
        return JSONResponse(refusal_json(refused), status_code=refused.http_status, headers=headers)
    context = {
        "heading": HEADINGS.get(refused.why),
        "message": refused.message,
        "fields": refused.fields,
        "next_step": refused.next_step or next_step(request, refused.why),
    }
    return templates.TemplateResponse(
        request, "refused.html", context, status_code=refused.http_status, headers=headers
    )


async def handle_refused(request: Request, exc: Exception) -> Response:
    """The app's exception handler: a route may simply raise `Refused`."""
    assert isinstance(exc, Refused)
    return refusal_response(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route, wrong method, an unreadable form) as refusal pages."""
    assert isinstance(exc, HTTPException)
    why, message = _FROM_HTTP.get(exc.status_code, (None, ""))
    if why is None:  # a status with no refusal of its own: kept, with Starlette's words for it
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 400 and exc.detail and exc.detail != "Bad Request":
        log.info("request_unreadable", path=request.url.path, detail=str(exc.detail)[:200])  # Starlette's words: ops'
        said = next((plain for phrase, plain in _UNREADABLE.items() if phrase in str(exc.detail)), None)
        message = f"{message} {said}" if said else message
    return refusal_response(request, Refused(why, message), headers=dict(exc.headers or {}))


async def handle_database_unavailable(request: Request, exc: Exception) -> Response:
    """The database cannot be reached (or is locked): 503 with Retry-After, nothing recorded."""
    log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
    return refusal_response(
        request,
        Refused(Why.UNAVAILABLE, "The escalation engine's database did not answer; nothing was recorded."),
    )


async def handle_temporal_unavailable(request: Request, exc: Exception) -> Response:
    """Temporal cannot be reached (down, over the request's budget, or never connected since the app
    started): 503 with Retry-After. Any other Temporal error is a bug: re-raised."""
    if as_unavailable(exc) is None:  # a RuntimeError of another kind, or an RPCError that is a bug
        raise exc
    status = exc.status.name if isinstance(exc, RPCError) else type(exc).__name__
    log.warning("temporal_unavailable", path=request.url.path, status=status)
    return refusal_response(
        request,
        Refused(
            Why.UNAVAILABLE,
            "The escalation engine did not answer in time; nothing was recorded. Please try again in a minute.",
        ),
    )


def as_unavailable(exc: Exception) -> Refused | None:
    """The refusal an exception is when it means the engine cannot answer now (Temporal or the
    database down or over the request's budget), or None when it means something else. For routes
    that answer such a moment with their form as typed instead of the plain refusal page."""
    if isinstance(exc, Refused):
        return exc if exc.why is Why.UNAVAILABLE else None
    if isinstance(exc, OperationalError):
        return Refused(Why.UNAVAILABLE, "The escalation engine's database did not answer; nothing was recorded.")
    if (
        isinstance(exc, RPCTimeoutOrCancelledError)
        or (isinstance(exc, RPCError) and exc.status in _UNREACHABLE)
        or never_connected(exc)
    ):
        return Refused(
            Why.UNAVAILABLE,
            "The escalation engine did not answer in time, so we cannot tell you that this was recorded.",
        )
    return None


def _path_for_log(request: Request) -> str:
    """The path without what could identify a person: a link's token carries its recipient."""
    path = request.url.path
    return "/r/<token>" if path.startswith("/r/") else path[:200]


async def handle_crash(request: Request, exc: Exception) -> Response:
    """Anything else is a bug: logged (which route, which exception, where; never the request body
    or the exception's text, which may quote what a person typed) and answered 500. Starlette
    re-raises it after this answer, so the server's log and the tests see it as the crash it is."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame is not None else "?"
    log.error(
        "request_crashed", method=request.method, path=_path_for_log(request), error=type(exc).__name__, where=where
    )
    message = "Something went wrong on our side and it has been logged. What you sent may not have been recorded."
    next_step = "Reload the page to see whether it was, before sending it again."
    if wants_json(request):
        return JSONResponse({"error": "crashed", "message": message, "next_step": next_step}, status_code=500)
    context = {"heading": "Something went wrong", "message": message, "fields": {}, "next_step": next_step}
    return templates.TemplateResponse(request, "refused.html", context, status_code=500)


EXCEPTION_HANDLERS = {
    Refused: handle_refused,
    HTTPException: handle_http_exception,
    OperationalError: handle_database_unavailable,
    RPCError: handle_temporal_unavailable,
    RPCTimeoutOrCancelledError: handle_temporal_unavailable,
    RuntimeError: handle_temporal_unavailable,  # only the SDK's "Failed client connect"; others re-raised
    Exception: handle_crash,  # a 500 that is still raised: see `handle_crash`
}
"""Registered on the app (each `Why`'s status is in `service.refusals.HTTP_STATUS`)."""
