"""Console sign-in as the web sees it: the cookie carries only a random session id; the session, the
account's current role and the CSRF token bound to it live on the server (`service/accounts.py`).
Before a session exists (the sign-in form), the CSRF token is signed by itsdangerous over a random
value in its own cookie, and cross-site posts are refused by their Origin (`web/security_headers.py`),
so another site can neither plant a working token nor post the form."""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from service.accounts import Accounts, SignedIn, Who

__all__ = ["ConsoleAuth", "SignedIn", "Who"]

LOGIN_TOKEN_SECONDS = 3600


class ConsoleAuth:
    def __init__(self, accounts: Accounts, login_key: bytes, secure: bool) -> None:
        self.accounts = accounts
        self.secure = secure
        # `__Host-` cookies cannot be set by another subdomain, nor over plain http (so not in development).
        prefix = "__Host-" if secure else ""
        self.session_cookie = f"{prefix}lmc_session"
        self.login_cookie = f"{prefix}lmc_login"
        self._login_tokens = URLSafeTimedSerializer(login_key, salt="lmc-escalations.sign-in-form")

    # --- sessions -------------------------------------------------------------------------
    def read(self, request: Request) -> Who | None:
        """The signed-in person (their account's role as it is now), or None; once per request."""
        if "who" not in request.scope.setdefault("state", {}):
            token = request.cookies.get(self.session_cookie, "")
            request.state.who = self.accounts.current(token) if token.isascii() and len(token) < 100 else None
        who: Who | None = request.state.who
        return who

    def begin(self, response: Response, signed_in: SignedIn) -> None:
        response.set_cookie(
            self.session_cookie,
            signed_in.token,
            max_age=int(self.accounts.policy.lifetime.total_seconds()),
            httponly=True,
            secure=self.secure,
            samesite="lax",
            path="/",
        )
        response.delete_cookie(self.login_cookie, path="/")

    def end(self, request: Request, response: Response, client: str | None) -> None:
        self.accounts.sign_out(request.cookies.get(self.session_cookie, ""), client)
        response.delete_cookie(self.session_cookie, path="/", secure=self.secure, httponly=True, samesite="lax")

    # --- CSRF -----------------------------------------------------------------------------
    def csrf_for(self, request: Request) -> str:
        """The token a page's forms carry: the session's own, or (signed out) a sign-in form token."""
        who = self.read(request)
        if who is not None:
            return who.csrf
        nonce = request.cookies.get(self.login_cookie, "")
        if not (nonce.isascii() and 20 <= len(nonce) <= 64):
            nonce = secrets.token_urlsafe(24)
        request.state.login_nonce = nonce
        return str(self._login_tokens.dumps(nonce))

    def login_form_response(self, request: Request, response: Response) -> Response:
        """The sign-in page, with the cookie its form's token is bound to."""
        nonce = getattr(request.state, "login_nonce", None)
        if nonce:
            response.set_cookie(
                self.login_cookie, nonce, httponly=True, secure=self.secure, samesite="strict", path="/"
            )
        return response

    def csrf_ok(self, request: Request, submitted: str) -> bool:
        if not submitted.isascii():
            return False
        who = self.read(request)
        if who is not None:
            return hmac.compare_digest(who.csrf.encode(), submitted.encode())
        nonce = request.cookies.get(self.login_cookie, "")
        try:
            signed = self._login_tokens.loads(submitted, max_age=LOGIN_TOKEN_SECONDS)
        except BadData:
            return False
        return bool(nonce) and isinstance(signed, str) and hmac.compare_digest(signed.encode(), nonce.encode())
