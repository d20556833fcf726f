"""Admins manage accounts: create, reset a password, disable."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from persistence.users import ROLES, Users
from service.refusals import Refused, Why
from web.console.guard import Console
from web.forms import plain_line, posted_form
from web.templating import templates


def routes(console: Console) -> list[Route]:
    users = Users(console.engine)
    signer = console.signer

    async def users_page(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        if who.role != "admin":
            raise Refused(Why.NOT_PERMITTED, f"{who.email} is signed in as {who.role}; only admins manage accounts.")
        message, status = None, 200
        if request.method == "POST":
            form = await posted_form(request)
            if not signer.csrf_ok(request, form.get("csrf", "")):
                raise Refused(Why.EXPIRED, "The form expired (or was not sent from its page); nothing was recorded.")
            try:
                if form.get("disable"):
                    if not plain_line(form["disable"]):
                        raise ValueError("disable: no account has that address")
                    users.set_disabled(form["disable"], True)
                    message = f"{form['disable']} can no longer sign in."
                else:
                    users.add(form.get("email", ""), form.get("role", ""), form.get("password", ""))
                    message = f"{form.get('email')} can sign in as {form.get('role')}."
            except ValueError as err:
                message, status = str(err), 422
        token = signer.csrf_for(request)
        context = {
            "who": who,
            "accounts": users.all(),
            "message": message,
            "status": status,
            "csrf": token,
            "roles": ROLES,
        }
        page = templates.TemplateResponse(request, "users.html", context, status_code=status)
        signer.set_csrf(page, token)
        return page

    return [Route("/console/users", users_page, methods=["GET", "POST"])]
