"""A console form sent while the engine cannot answer (Temporal or the database down, or slower than
the request's budget): answered 503 with Retry-After and the form again, filled in as it was typed,
with the same one-time submission id, so sending it again is safe (an action already recorded under
that id is not recorded twice). Never the plain refusal page, which would lose what was typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import Response

from web.forms import SUBMISSION, posted_form, typed_again
from web.refusal_pages import NEXT_STEP, RETRY_AFTER_SECONDS, as_unavailable, refusal_response, wants_json
from web.templating import templates

log = structlog.get_logger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

HIDDEN = ("csrf", SUBMISSION, "action", "message_id", "decision", "how", "keep_old_links")
"""Fields a person did not type (or chose with a button): carried along unseen."""

SEND_AGAIN = (
    "Nothing you typed is lost: check it below and send it again in a minute. "
    "It is recorded once, however many times it is sent."
)


def form_again(action: str, form: dict[str, str]) -> dict[str, object]:
    """What `resubmit.html` shows of a form to send again: its unseen fields kept hidden, the typed ones to check."""
    return {
        "action": action,
        "hidden": [(name, value) for name, value in form.items() if name in HIDDEN],
        "typed": [(name, value) for name, value in form.items() if name not in HIDDEN],
    }


def resubmittable(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, answering an engine that cannot answer with the form again (503) instead of a refusal page."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            refused = as_unavailable(exc)
            if refused is None:
                raise
            log.info("console_form_unavailable", path=request.url.path[:200], error=type(exc).__name__)
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            if wants_json(request):
                return refusal_response(request, refused)
            form = await posted_form(request)  # read already (Starlette keeps it), so this cannot fail now
            if SUBMISSION in form:
                form = typed_again(form)
            context = {
                "message": refused.message,
                "send_again": SEND_AGAIN,
                "next_step": NEXT_STEP[refused.why],
                **form_again(request.url.path, form),
            }
            return templates.TemplateResponse(request, "resubmit.html", context, status_code=503, headers=headers)

    return guarded
