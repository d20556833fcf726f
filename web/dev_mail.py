"""Development only: browse the messages the local SMTP sink stored in var/mail/, and follow their
links as the recipient would. `make run` switches it on; production never serves it. Even so only
ops staff signed in to the console may read it: the links in those messages act for their recipients."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from service.refusals import Refused, Why, shown
from web.auth import ConsoleAuth

_URL = re.compile(r"https?://[^\s<>\"]+")


def _read(path: Path) -> EmailMessage:
    return message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


def _content(part: MIMEPart | None) -> str:
    """A part's text; one in a charset Python does not know (or cannot decode) is shown with the
    undecodable bytes replaced, not refused: this is a look at what the sink stored."""
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError, KeyError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")


def _linkified(text: str) -> Markup:
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def dev_mail_routes(mail_dir: Path, templates: Jinja2Templates, auth: ConsoleAuth) -> list[Route]:
    def ops_only(request: Request) -> Response | None:
        who = auth.read(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        if who.role not in ("ops", "admin"):
            raise Refused(
                Why.NOT_PERMITTED, f"{who.email} is signed in as {who.role}; only ops staff read the mail sink."
            )
        return None

    async def inbox(request: Request) -> Response:
        bounced = ops_only(request)
        if bounced is not None:
            return bounced
        escalation = request.query_params.get("escalation", "").strip()
        recipient = request.query_params.get("to", "").strip().lower()
        files = sorted(mail_dir.glob("*.eml"), reverse=True)[:2000]
        messages = [(f.name, _read(f)) for f in files]
        if escalation:
            messages = [(n, m) for n, m in messages if escalation.upper() in str(m["Subject"] or "").upper()]
        if recipient:
            messages = [(n, m) for n, m in messages if recipient in f"{m['To'] or ''} {m['Cc'] or ''}".lower()]
        context = {"messages": messages[:500], "shown": None, "escalation": escalation, "to": recipient}
        return templates.TemplateResponse(request, "dev_mail.html", context)

    async def one(request: Request) -> Response:
        bounced = ops_only(request)
        if bounced is not None:
            return bounced
        name = request.path_params["name"]
        path = mail_dir / name
        if "/" in name or not name.endswith(".eml") or not path.is_file():
            raise Refused(Why.NOT_FOUND, f"There is no message {shown(name)} in {mail_dir.name}/.")
        message = _read(path)
        context: dict[str, object] = {
            "messages": [],
            "shown": message,
            "text": _linkified(_content(message.get_body(("plain",)))),
            "html": _content(message.get_body(("html",))),
        }
        return templates.TemplateResponse(request, "dev_mail.html", context)

    return [Route("/dev/mail", inbox), Route("/dev/mail/{name}", one)]
