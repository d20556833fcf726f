"""Console sign-in: a signed, expiring session cookie naming the account and its role, and
double-submit CSRF tokens for forms. Roles are checked on the server for every action."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "lmc_session"
CSRF_COOKIE = "lmc_csrf"
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class SignedIn:
    email: str
    role: str


class SessionSigner:
    def __init__(self, key: bytes, secure: bool) -> None:
        self._key = key
        self.secure = secure

    def _mac(self, body: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest()).decode()

    def issue(self, response: Response, email: str, role: str) -> None:
        body = base64.urlsafe_b64encode(
            json.dumps({"e": email, "r": role, "x": int(time.time()) + SESSION_SECONDS}).encode()
        ).decode()
        response.set_cookie(
            SESSION_COOKIE,
            f"{body}.{self._mac(body)}",
            max_age=SESSION_SECONDS,
            httponly=True,
            secure=self.secure,
            samesite="lax",
        )

    def read(self, request: Request) -> SignedIn | None:
        token = request.cookies.get(SESSION_COOKIE, "")
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body))
        except ValueError:
            return None
        if int(data.get("x", 0)) < time.time():
            return None
        return SignedIn(email=str(data["e"]), role=str(data["r"]))

    @staticmethod
    def csrf_for(request: Request) -> str:
        """The token for a form: the same random value goes in a cookie and the form's hidden field."""
        return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)

    def set_csrf(self, response: Response, token: str) -> None:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=self.secure, samesite="strict")

    @staticmethod
    def csrf_ok(request: Request, submitted: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, submitted)
