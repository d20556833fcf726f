"""Who is asking, checked on the server for every console page and form: signed in, the form's
CSRF token, the role the action needs. A failed check is a `Refused`, shown by the one refusal map."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.refusals import Refused, Why
from settings import Settings
from web.auth import ConsoleAuth, Who
from web.forms import posted_form

OFFICERS = ("officer", "admin")


class SessionEnded(Refused):
    """A console form sent after its session ended (idle for half an hour, say): nothing recorded, and what was
    typed is carried through signing in again, to be sent from there (`web.app`'s handler), not lost."""

    def __init__(self, path: str, form: dict[str, str]) -> None:
        super().__init__(Why.NOT_SIGNED_IN, "Your session has ended, so nothing was recorded; sign in again.")
        self.path = path
        self.form = form


def client_of(request: Request) -> str | None:
    """The client's address, for the security log and the sign-in throttle."""
    return request.client.host if request.client else None


OPS = ("ops", "admin")


@dataclass(frozen=True)
class Console:
    """What every console route needs: settings, the session signer and the database."""

    settings: Settings
    signer: ConsoleAuth
    engine: Engine

    def who(self, request: Request) -> Who | Response:
        """The signed-in person, or the redirect to sign in."""
        who = self.signer.read(request)
        return RedirectResponse("/login", status_code=303) if who is None else who

    async def signed_in(self, request: Request) -> Who | Response:
        """As `who`, for a route that also takes its form: one sent after the session ended is carried through
        signing in again (`SessionEnded`), not dropped by the redirect."""
        who = self.who(request)
        if isinstance(who, Response) and request.method == "POST":
            raise SessionEnded(request.url.path, await posted_form(request))
        return who

    async def posted_by(self, request: Request, roles: tuple[str, ...], rule: str) -> tuple[Who, dict[str, str]]:
        """A console form's sender and fields; `Refused` if not signed in, without the CSRF token, or the wrong role."""
        who = self.signer.read(request)
        form = await posted_form(request)
        if who is None:
            raise SessionEnded(request.url.path, form)
        if not self.signer.csrf_ok(request, form.get("csrf", "")):
            raise Refused(Why.EXPIRED, "The form expired (or was not sent from its page); nothing was recorded.")
        if who.role not in roles:
            raise Refused(Why.NOT_PERMITTED, f"{who.email} is signed in as {who.role}; {rule}.")
        return who, form
