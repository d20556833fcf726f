"""Turn an email effect into a MIME message: text and HTML from templates, the case
reference in the subject, a stable Message-ID per (escalation, step), threaded to the
case's first message.

Built with the `email` package's older (compat32) classes and written once, all in ASCII (encoded-word headers,
quoted-printable or base64 bodies), which a server with or without 8BITMIME takes alike. The newer API parses
every header it is given into objects, which made composing most of a practice's notification (an incident
composes thousands at once); readers who want that API parse the written bytes (`ComposedMessage.as_email`).

An email that can never be built as it is (a control character or line break in a subject, name
or address that reaches a header; an address that cannot be written in one) raises `Unsendable`
with the reason in plain words, before anything is sent: the same effect always fails the same
way, so retrying it cannot help. `held_notice` is what the officer is told about such an email.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from email import policy
from email.charset import BASE64, QP, Charset
from email.errors import MessageError
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from domain.tables import Table

_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)


HELD_NOTICE = "email-held-notice"
"""The purpose of the notice telling the officer that an email could not be sent."""
_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


_WRITTEN = policy.compat32.clone(linesep="\r\n")
_TEXT = Charset("utf-8")
_TEXT.body_encoding = QP  # mostly readable as it travels; the attachments go as base64
_ATTACHED = Charset("utf-8")
_ATTACHED.body_encoding = BASE64


class ComposedMessage(MIMEMultipart):
    """A composed message and the bytes delivery sends: written once here, where it is checked, not again."""

    written: bytes = b""

    def as_email(self) -> EmailMessage:
        """The message as a reader of the newer `email` API sees it (the examples, tests): parsed from what is sent."""
        parsed = BytesParser(policy=policy.default).parsebytes(self.written)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Unsendable(ValueError):
    """An email that can never be built or sent as it is: `reason` says why in plain words (no
    leading capital, no full stop); `culprits` are the addresses at fault, if the fault is theirs."""

    def __init__(self, reason: str, culprits: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.culprits = tuple(culprits)


def message_id_for(escalation_id: str, step: int, domain: str) -> str:
    return f"<{escalation_id}.{step}@{domain}>"


def notice_id_for(message_id: str) -> str:
    """The Message-ID of the officer's notice that the email `message_id` could not be sent."""
    local, _, domain = message_id.strip("<>").rpartition("@")
    return f"<{local}.held-notice@{domain}>"


def printable(text: str, limit: int = 200) -> str:
    """`text` on one line for a person to read: control characters and line breaks become spaces."""
    flat = "".join(" " if _unwritable(ch) else ch for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _unwritable(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _describe(ch: str) -> str:
    if ch in _LINE_BREAKS:
        return "a line break"
    return f"an invisible control character (U+{ord(ch):04X})"


def _header_fault(text: str) -> str | None:
    """What in `text` an email header cannot carry, in words; None if it can carry all of it."""
    bad = next((ch for ch in text if _unwritable(ch) and ch != "\t"), None)  # a tab is folding white space
    return None if bad is None else f"{_describe(bad)}, which an email header cannot carry"


def check_headers(effect: EmailEffect) -> None:
    """Raise `Unsendable` if the subject, a name or an address cannot be written in a header."""
    fault = _header_fault(effect.subject)
    if fault is not None:
        raise Unsendable(f"its subject contains {fault}")
    for contact in (effect.to, *effect.cc):
        address = printable(contact.email)
        fault = _header_fault(contact.email)
        if fault is not None:
            raise Unsendable(f"the address {address} contains {fault}", [contact.email])
        if not contact.email.isascii():
            raise Unsendable(
                f"the address {address} has letters outside plain ASCII, which this engine cannot send to",
                [contact.email],
            )
        fault = _header_fault(contact.name)
        if fault is not None:
            raise Unsendable(f"the name given for {address} contains {fault}", [contact.email])


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
    tables: list[Table] | None = None,
    reply_to: Contact | None = None,
) -> ComposedMessage:
    """The message for `effect`; raises `Unsendable` if it can never be built as it is."""
    check_headers(effect)
    try:
        message = _build(effect, mail_from, message_id, in_reply_to, sent_at, bool(tables))
        if reply_to is not None and reply_to.email != effect.to.email and _header_fault(reply_to.email) is None:
            message["Reply-To"] = _address(printable(reply_to.name), reply_to.email)
        _add_content(message, effect, tables or [], facts, action_labels, link)
        flat = message.as_bytes(policy=_WRITTEN)
    except (ValueError, MessageError) as err:  # the same effect fails the same way every time
        raise Unsendable(f"it could not be put together as an email ({printable(str(err))})") from err
    if not flat.isascii():  # every header is encoded and every body transfer-encoded, so this cannot happen
        raise Unsendable("it could not be written in plain ASCII, as every email this engine sends is")
    message.written = flat
    return message


def _build(
    effect: EmailEffect,
    mail_from: str,
    message_id: str,
    in_reply_to: str | None,
    sent_at: datetime,
    attached: bool,
) -> ComposedMessage:
    """The message's headers; its content follows (`_add_content`), once every header is in. With attachments it
    is multipart/mixed (the alternatives first, then each attachment); without, multipart/alternative."""
    message = ComposedMessage("mixed" if attached else "alternative")
    # As configured (`Settings.mail_from` checks it); a name outside ASCII is encoded, the address left as it is.
    message["From"] = mail_from if mail_from.isascii() else _address(*parseaddr(mail_from))
    message["To"] = _address(effect.to.name, effect.to.email)
    if effect.cc:
        message["Cc"] = ", ".join(_address(c.name, c.email) for c in effect.cc)
    # Encoded words if it is not all ASCII; without surrounding spaces, which a header cannot keep (a reader takes
    # the space after "Subject:" and any more as the header's own).
    message["Subject"] = effect.subject.strip()
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent_at)
    if in_reply_to and in_reply_to != message_id:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    return message


def _address(name: str, address: str) -> str:
    """'Name <address>', a name outside ASCII as encoded words short enough to fold onto lines a mail server takes
    (`formataddr` writes it as one word, which a long name makes longer than a line may be)."""
    if name.isascii():
        return formataddr((name, address))
    return f"{Header(name, 'utf-8').encode()} <{address}>"


def _add_content(
    message: ComposedMessage,
    effect: EmailEffect,
    tables: list[Table],
    facts: list[tuple[str, str]],
    action_labels: dict[str, str],
    link: str | None,
) -> None:
    """Both parts, rendered once with any tables, and each table attached as a CSV a spreadsheet can add up."""
    context = {
        "effect": effect,
        "facts": facts,
        "link": link,
        "actions": [action_labels.get(a, a) for a in effect.actions],
        "tables": tables,
    }
    parts: Message = MIMEMultipart("alternative") if tables else message
    parts.attach(_text(_env.get_template("message.txt.j2").render(context), "plain", _TEXT))
    parts.attach(_text(_env.get_template("message.html").render(context), "html", _TEXT))
    if parts is message:
        return
    message.attach(parts)
    for table in tables:  # UTF-8 with a byte-order mark, so Excel shows "£" as it is
        attachment = _text("\ufeff" + table_csv(table), "csv", _ATTACHED)
        attachment.add_header("Content-Disposition", "attachment", filename=csv_name(table))
        message.attach(attachment)


def _text(text: str, subtype: str, charset: Charset) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, charset)
    return part


def csv_name(table: Table) -> str:
    """'the-claim-line-by-line.csv' from the table's caption."""
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in table.caption).split()
    return "-".join(words) + ".csv"


def table_csv(table: Table) -> str:
    """The table as CSV: money and counts as plain numbers ('1600.00'), so a spreadsheet sums them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in [*table.rows, *([table.total] if table.total else [])]:
        writer.writerow([_plain(cell) if i in table.numeric else cell for i, cell in enumerate(row)])
    return out.getvalue()


def _plain(cell: str) -> str:
    """'£1,600.00 (example rate)' -> '1600.00'; '1,250' -> '1250'."""
    return cell.split(" (")[0].replace("£", "").replace(",", "").strip()


def held_notice(escalation_id: str, held: EmailEffect, reason: str, officer: Contact) -> EmailEffect:
    """What the officer is told about an email held because it can never be sent as it is: which
    email to whom, why in plain words, and that ops will send it once it is corrected."""
    reference = printable(escalation_id, 64)
    copied = ", ".join(printable(c.email) for c in held.cc)
    to = f"{printable(held.to.name)} ({printable(held.to.email)})" + (f", copied to {copied}" if copied else "")
    return EmailEffect(
        purpose=HELD_NOTICE,
        to=officer,
        to_role=Role.OFFICER,
        subject=f"[{reference}] An email could not be sent",
        headline="An email could not be sent",
        paragraphs=[
            f"The email \u201c{printable(held.subject)}\u201d to {to} could not be sent, so it has gone to nobody.",
            f"Why: {reason}.",
            "It is held for the LMC's operations staff, who will send it once it is corrected. The escalation "
            "carries on meanwhile, and its deadlines still run.",
        ],
    )
