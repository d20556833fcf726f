"""Console sign-in: a signed, expiring session cookie naming the account and its role, and
double-submit CSRF tokens for forms. Roles are checked on the server for every action."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "lmc_session"
CSRF_COOKIE = "lmc_csrf"
SESSION_SECONDS = 8 * 3600
_CSRF_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


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
        """The session's account, or None for no cookie, a forged or garbled one, or an expired one."""
        token = request.cookies.get(SESSION_COOKIE, "")
        body, _, mac = token.partition(".")
        if not body or not _same(mac, self._mac(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body))
            expires, email, role = int(data["x"]), str(data["e"]), str(data["r"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        return SignedIn(email=email, role=role)

    @staticmethod
    def csrf_for(request: Request) -> str:
        """The token for a form: the same random value goes in a cookie and the form's hidden field
        (a cookie that is not one of ours is replaced by a new token)."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        return cookie if _CSRF_TOKEN.fullmatch(cookie) else secrets.token_urlsafe(24)

    def set_csrf(self, response: Response, token: str) -> None:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=self.secure, samesite="strict")

    @staticmethod
    def csrf_ok(request: Request, submitted: str) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        return bool(cookie) and _same(cookie, submitted)


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of any two strings (`hmac.compare_digest` refuses non-ASCII text)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
