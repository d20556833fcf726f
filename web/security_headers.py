"""Headers on every answer, and cross-site posts refused.

- Content-Security-Policy: our own scripts, styles and images only; no framing (`frame-ancestors
  'none'`, and X-Frame-Options for older browsers); forms post only to us.
- `Referrer-Policy: no-referrer`: a link page's address holds its token, so it never leaks in a Referer.
- HSTS when the app is served over https.
- A POST, PUT, PATCH or DELETE whose Origin is another site is refused before it is read (the Temporal
  Web UI, calling the codec endpoint, is the one other origin allowed, and only there).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.refusals import Refused, Why
from web.refusal_pages import refusal_response

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class SecurityHeaders:
    def __init__(self, app: ASGIApp, base_url: str, ui_url: str) -> None:
        self.app = app
        self.own = origin_of(base_url)
        self.ui = origin_of(ui_url)
        self.https = base_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        if scope["method"] in UNSAFE and not self._same_site(scope):
            request = Request(scope)
            refused = Refused(
                Why.NOT_PERMITTED,
                "This form was sent from another website, so it was not accepted.",
                next_step="Open the page on this site and send the form from there.",
            )
            await refusal_response(request, refused)(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)

    def _same_site(self, scope: Scope) -> bool:
        """Browsers say where a request came from in Sec-Fetch-Site (all current ones) and Origin (which
        is "null" for a form posted from a `no-referrer` page, so it cannot be the only test)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        codec = str(scope.get("path", "")).startswith("/codec/")
        origin = headers.get("origin")
        allowed = {*self._own_origins(), self.ui} if codec else self._own_origins()
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site in ("same-origin", "none") or (codec and origin is not None and origin.lower() in allowed)
        if origin is None or origin == "null":
            return True  # not a browser that says (curl, tests, very old browsers): CSRF tokens still apply
        return origin.lower() in allowed

    def _own_origins(self) -> set[str]:
        """Our origin; in development on this machine, localhost and 127.0.0.1 are the same place."""
        parts = urlsplit(self.own)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.scheme == "http":
            port = f":{parts.port}" if parts.port else ""
            return {f"http://127.0.0.1{port}", f"http://localhost{port}"}
        return {self.own}
