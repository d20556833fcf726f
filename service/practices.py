"""The LMC's practices: loaded (and updated) from a CSV in the shape of the NHS ODS GP practice file
(`epraccur`: Organisation Code, Name, address lines, Postcode, Commissioner (the ICB), Status Code) with
the contact email the LMC adds, and each practice's standing link to its alert page, sent by email.

A standing link is signed like every link (`links/signing.py`) for the practice's own page (its
"escalation" is `PRACTICE-<ODS>`), lasts `STANDING_LINK_DAYS`, and is withdrawn like any other
(`persistence/revoked_links.py`). A practice needs no account. A new link is sent when a practice is
first loaded and whenever its contact email changes; the old one then no longer opens the page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from domain.contacts import Contact, Role
from domain.escalation import EmailEffect
from domain.formatting import counted
from domain.identifiers import HeaderText, OdsCode, SafeEmail
from links.signing import LinkGrant, sign_link
from mail.compose import compose, message_id_for
from mail.delivery import SmtpDelivery
from persistence.practices import PracticeRow, Practices
from persistence.sent_mail import SentEmail, SentMailLedger
from service.gate import admit, refuse_field
from service.links_admin import withdraw_links
from service.refusals import Refused, Why
from settings import Settings

STANDING_LINK_DAYS = 5 * 365
PAGE_PREFIX = "PRACTICE-"

_COLUMNS = {
    "ods": ("organisation code", "ods code", "code"),
    "name": ("name", "practice name"),
    "icb": ("commissioner", "icb", "icb code"),
    "status": ("status code", "status"),
    "email": ("contact email", "email"),
}
_ADDRESS = ("address line 1", "address line 2", "address line 3", "address line 4", "address line 5", "postcode")


class PracticeEntry(BaseModel):
    """One practice as the gate admits it: nothing but what the ODS file and the LMC say."""

    ods: OdsCode
    name: HeaderText = Field(min_length=1, max_length=200)
    address: HeaderText = Field(default="", max_length=600)
    icb: str = Field(default="", max_length=12, pattern=r"^[A-Za-z0-9]*$")
    email: SafeEmail
    active: bool = True


@dataclass
class LoadResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    links_sent: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged; "
            f"{counted(len(self.links_sent), 'standing link')} sent."
        )


def page_id(ods: str) -> str:
    """The practice's page, as its emails and the sent-mail ledger name it."""
    return f"{PAGE_PREFIX}{ods.upper()}"


def link_id(ods: str, generation: int) -> str:
    """What one standing link is bound to: the practice's page and the link's number, so a new link (the
    contact changed, or the LMC sent a new one) replaces the old, and a withdrawn one stays withdrawn."""
    return f"{page_id(ods)}-{generation}"


def parse_link_id(escalation_id: str) -> tuple[str, int] | None:
    """(ODS code, link number) from a standing link's binding; None if it is not one."""
    ods, _, number = escalation_id.removeprefix(PAGE_PREFIX).partition("-")
    if not escalation_id.startswith(PAGE_PREFIX) or not number.isascii() or not number.isdigit():
        return None
    return ods, int(number)


def read_csv(text: str) -> list[PracticeEntry]:
    """Every row of the file as a practice, or one `Refused` naming each row and field at fault."""
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as err:  # a field past the csv module's limit, a NUL: no file of practices
        raise refuse_field("file", f"line {reader.line_num} cannot be read as CSV ({err})") from err
    if not rows:
        raise refuse_field("file", "the file has no rows")
    header = [cell.strip().lower() for cell in rows[0]]
    where = {key: next((header.index(n) for n in names if n in header), None) for key, names in _COLUMNS.items()}
    missing = [key for key in ("ods", "name", "email") if where[key] is None]
    if missing:
        raise refuse_field(
            "file",
            "the first row must name the columns: Organisation Code, Name, address lines, Postcode, Commissioner, "
            f"Status Code and Contact Email (missing: {', '.join(missing)})",
        )
    address_at = [header.index(n) for n in _ADDRESS if n in header]
    entries, errors = [], {}
    for number, row in enumerate(rows[1:], start=2):

        def cell(i: int | None, row: list[str] = row) -> str:
            return row[i].strip() if i is not None and i < len(row) else ""

        data = {
            "ods": cell(where["ods"]),
            "name": cell(where["name"]),
            "address": ", ".join(p for p in (cell(i) for i in address_at) if p),
            "icb": cell(where["icb"]),
            "email": cell(where["email"]),
            "active": cell(where["status"]).upper() not in ("C", "CLOSED"),
        }
        try:
            entries.append(admit(PracticeEntry, data))
        except Refused as refused:
            errors.update({f"row {number} {name}": problem for name, problem in refused.fields.items()})
    if errors:
        raise Refused.invalid(errors)
    return entries


async def load(settings: Settings, engine: Engine, path: Path, now: datetime | None = None) -> LoadResult:
    """Add or update the practices in the file, and send each new or changed contact its standing link."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise refuse_field("file", f"cannot read {path} as UTF-8 text") from err
    entries = read_csv(text)
    when = now or datetime.now(UTC)
    practices = Practices(engine)
    result = LoadResult()
    for entry in entries:
        outcome, stored = practices.upsert(PracticeRow(**entry.model_dump(), loaded_at=when))
        getattr(result, outcome).append(entry.ods)
        if stored.active and stored.link_sent_to != stored.email:
            await send_standing_link(settings, engine, stored, when)
            result.links_sent.append(entry.ods)
    return result


def standing_link(settings: Settings, practice: PracticeRow, now: datetime, generation: int | None = None) -> str:
    """The practice's link number `generation` (by default the one it was last sent)."""
    grant = LinkGrant(
        escalation_id=link_id(practice.ods, practice.link_generation if generation is None else generation),
        recipient=practice.email,
        role=Role.PRACTICE,
        expires_at=now + timedelta(days=STANDING_LINK_DAYS),
    )
    return f"{settings.base_url.rstrip('/')}/p/{sign_link(settings.link_keys, grant)}"


async def send_standing_link(settings: Settings, engine: Engine, practice: PracticeRow, now: datetime) -> None:
    """Email the practice its link, once per contact (the ledger keeps a second run from sending again)."""
    generation = practice.link_generation + 1
    link = standing_link(settings, practice, now, generation)
    effect = EmailEffect(
        purpose="practice-standing-link",
        to=Contact(name=practice.name, title="Practice", email=practice.email),
        to_role=Role.PRACTICE,
        subject=f"[{page_id(practice.ods)}] Your practice's link for interface alerts",
        headline="Report work moved onto your practice without funding",
        paragraphs=[
            "When a hospital or community provider moves work onto the practice that its contract says it should "
            "do (an onward referral, a missing discharge summary, too little medication on discharge), report it "
            "in under a minute on your practice's own page. The provider is asked to answer; the LMC uses the "
            "pattern to claim for the work.",
            f"Your page (keep this email; the link works for {STANDING_LINK_DAYS // 365} years and needs no "
            f"account): {link}",
            "Never include a patient's name, NHS number or other details: a letter or document reference is enough.",
        ],
    )
    message_id = message_id_for(page_id(practice.ods), generation, settings.message_id_domain)
    message = compose(
        effect,
        mail_from=settings.mail_from,
        message_id=message_id,
        in_reply_to=None,
        link=None,
        facts=[],
        action_labels={},
        sent_at=now,
    )
    row = SentEmail(
        message_id=message_id,
        escalation_id=page_id(practice.ods),
        purpose=effect.purpose,
        recipient=practice.email,
        subject=effect.subject,
    )
    await SmtpDelivery(settings, SentMailLedger(engine)).send_once(message, row)
    Practices(engine).link_sent(practice.ods, practice.email, now, generation)


def practice_named(engine: Engine, ods: str) -> PracticeRow:
    found = Practices(engine).get(ods.strip())
    if found is None:
        raise Refused(Why.NOT_FOUND, f"No practice {ods[:12]} is loaded; load it with `practices load FILE`.")
    return found


async def new_link(settings: Settings, engine: Engine, ods: str) -> str:
    """Send the practice a new standing link; its old one stops opening the page."""
    practice = practice_named(engine, ods)
    await send_standing_link(settings, engine, practice, datetime.now(UTC))
    return f"A new link was sent to {practice.email}; the old one no longer opens {practice.name}'s page."


def withdraw_link(engine: Engine, ods: str, by: str, reason: str) -> str:
    """Withdraw the practice's current standing link (in the security log); `new_link` sends another."""
    practice = practice_named(engine, ods)
    withdrawn = withdraw_links(
        engine,
        link_id(practice.ods, practice.link_generation),
        by,
        practice.email,
        reason,
        "the LMC office",
        None,
        typed=False,
    )
    return f"{practice.name}'s link {'is now' if withdrawn else 'was already'} withdrawn."
