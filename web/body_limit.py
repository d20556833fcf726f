"""A cap on request bodies: nothing a person types into our forms comes near 1 MB, so anything
larger is refused with 413 before it is parsed, stored or sent on to Temporal.

The Temporal Web UI's codec endpoint gets a larger cap: it posts whole histories' payloads.
A body declared too large (Content-Length) is refused before the app sees it; one that grows
too large while streaming is refused as soon as it passes the cap. Either way what is left of
it is read and thrown away (up to a ceiling) before answering, so the client reads the 413
instead of a connection reset by a server that stopped reading.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.refusals import Refused, Why
from web.refusal_pages import refusal_response

MAX_BODY_BYTES = 1024 * 1024
MAX_CODEC_BODY_BYTES = 8 * 1024 * 1024
DRAIN_CEILING_BYTES = 64 * 1024 * 1024  # beyond this a client is not sending a form: stop reading


def too_large(limit: int) -> Refused:
    return Refused(Why.TOO_LARGE, f"What was sent is larger than the {limit // (1024 * 1024)} MB this page accepts.")


def limit_for(path: str) -> int:
    return MAX_CODEC_BODY_BYTES if path.startswith("/codec/") else MAX_BODY_BYTES


async def _drain(receive: Receive, already: int) -> None:
    """Read and discard the rest of the body, up to the ceiling."""
    seen = already
    while seen <= DRAIN_CEILING_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimit:
    """ASGI middleware: `Refused(TOO_LARGE)` (413) for a body over `limit_for(path)`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _drain(receive, 0)
            await refusal_response(Request(scope), too_large(limit))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await _drain(receive, received)
                    raise too_large(limit)  # raised inside the route: the refusal map answers 413
            return message

        await self.app(scope, limited, send)
