"""Turn an email effect into a MIME message: text and HTML from templates, the case
reference in the subject, a stable Message-ID per (escalation, step), threaded to the
case's first message."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.escalation import EmailEffect

_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)


def message_id_for(escalation_id: str, step: int, domain: str) -> str:
    return f"<{escalation_id}.{step}@{domain}>"


def compose(
    effect: EmailEffect,
    *,
    mail_from: str,
    message_id: str,
    in_reply_to: str | None,
    link: str | None,
    facts: list[tuple[str, str]],
    action_labels: dict[str, str],
    sent_at: datetime,
) -> EmailMessage:
    context = {
        "effect": effect,
        "facts": facts,
        "link": link,
        "actions": [action_labels.get(a, a) for a in effect.actions],
    }
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = formataddr((effect.to.name, effect.to.email))
    if effect.cc:
        message["Cc"] = ", ".join(formataddr((c.name, c.email)) for c in effect.cc)
    message["Subject"] = effect.subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent_at)
    if in_reply_to and in_reply_to != message_id:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(_env.get_template("message.txt.j2").render(context))
    message.add_alternative(_env.get_template("message.html").render(context), subtype="html")
    return message
