"""Admins manage accounts (create, reset a password or role, disable) and read the security log.
Every change ends or narrows the account's sessions at once and is written to the security log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from persistence.users import ROLES
from service.refusals import Refused, Why
from web.console.guard import Console, client_of
from web.forms import plain_line, posted_form
from web.templating import templates


def routes(console: Console) -> list[Route]:
    signer = console.signer
    accounts = signer.accounts

    def admin(request: Request) -> Response | None:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        if who.role != "admin":
            raise Refused(Why.NOT_PERMITTED, f"{who.email} is signed in as {who.role}; only admins manage accounts.")
        return None

    async def users_page(request: Request) -> Response:
        bounced = admin(request)
        if bounced is not None:
            return bounced
        who = signer.read(request)
        assert who is not None
        message, status = None, 200
        errors: dict[str, str] = {}
        typed: dict[str, str] = {}
        if request.method == "POST":
            form = await posted_form(request)
            if not signer.csrf_ok(request, form.get("csrf", "")):
                raise Refused(Why.EXPIRED, "The form expired (or was not sent from its page); nothing was recorded.")
            try:
                if form.get("disable"):
                    if not plain_line(form["disable"]):
                        raise Refused(Why.NOT_FOUND, "disable: no account has that address")
                    if form.get("confirm") != "yes":
                        raise Refused.invalid({"confirm": f"tick the box to confirm disabling {form['disable']}"})
                    message = accounts.disable(who.email, form["disable"], client_of(request))
                else:
                    message = accounts.save_account(
                        who.email,
                        form.get("email", ""),
                        form.get("role", ""),
                        form.get("password", ""),
                        client_of(request),
                        console.settings.escalation_config().lmc,
                    )
            except Refused as refused:
                message, status = refused.message, refused.http_status
                errors = refused.fields
                typed = {k: form.get(k, "") for k in ("email", "role")}  # never the password
        context = {
            "who": who,
            "accounts": accounts.users.all(),
            "message": None if errors else message,
            "errors": errors,
            "typed": typed,
            "status": status,
            "csrf": signer.csrf_for(request),
            "roles": ROLES,
        }
        return templates.TemplateResponse(request, "users.html", context, status_code=status)

    async def security_log(request: Request) -> Response:
        bounced = admin(request)
        if bounced is not None:
            return bounced
        context = {"who": signer.read(request), "events": accounts.log.recent(500)}
        return templates.TemplateResponse(request, "security_log.html", context)

    return [
        Route("/console/users", users_page, methods=["GET", "POST"]),
        Route("/console/security", security_log),
    ]
