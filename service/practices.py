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

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
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

MAX_ROWS = 10_000
"""Practices one file may hold: England has about 6,300 and an LMC a few hundred. A file of 200,000 rows had run
for minutes, saving and emailing as it went; one past this is refused before anything is checked or saved."""
MAX_BYTES = 5 * 1024 * 1024
"""The largest file read (about twice what `MAX_ROWS` practices take), so a huge file is refused unread."""

_COLUMNS = {
    "ods": ("organisation code", "ods code", "code"),
    "name": ("name", "practice name"),
    "icb": ("commissioner", "icb", "icb code"),
    "status": ("status code", "status"),
    "email": ("contact email", "email"),
}
_REQUIRED = {"ods": "Organisation Code", "name": "Name", "email": "Contact Email"}
"""The columns a file cannot do without, as the file should name them."""
_ADDRESS = ("address line 1", "address line 2", "address line 3", "address line 4", "address line 5", "postcode")
_CSV_MISTAKES = {"field larger than field limit": "a cell is longer than any practice's (is a quote not closed?)"}
"""The csv module's words for what stops it reading, said as what to look for."""


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


Row = tuple[int, list[str]]
"""A row of the file: its number as a spreadsheet shows it (the header is row 1) and its cells."""


@dataclass(frozen=True)
class Columns:
    """Where each field is in the file's rows, from its header row."""

    at: dict[str, int | None]
    address_at: list[int]
    width: int  # the header's columns, up to its last named one


def read_csv(text: str) -> list[PracticeEntry]:
    """Every row of the file as a practice, or one `Refused` naming every row and field at fault: the whole
    file is checked before anything is saved or sent, so a file is loaded whole or not at all."""
    (_, header), *rows = _rows(text)
    _refuse_too_many(len(rows))
    columns = _columns(header)
    entries: list[PracticeEntry] = []
    errors: dict[str, str] = {}
    first_row: dict[str, int] = {}  # each ODS code's first row, to name it when the code is on another
    for number, cells in rows:
        misshapen = _misshapen(cells, columns)
        if misshapen:
            errors[f"row {number}"] = misshapen
            continue
        data = _as_data(cells, columns)
        ods = _ods_code(_cell(cells, columns.at["ods"]))
        if ods in first_row:
            errors[f"row {number} ods"] = f"{ods} is on row {first_row[ods]} too; put each practice on one row only"
        elif ods is not None:
            first_row[ods] = number
        try:
            entries.append(admit(PracticeEntry, data))
        except Refused as refused:
            errors.update({f"row {number} {name}": problem for name, problem in refused.fields.items()})
    if errors:
        raise Refused.invalid(errors)
    return entries


def _rows(text: str) -> list[Row]:
    """The file's rows that have anything in them, numbered as a spreadsheet numbers them (a blank row still
    counts, and a quoted cell over several lines is one row); refused if there is none."""
    rows: list[Row] = []
    reader = csv.reader(io.StringIO(text))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if any(cell.strip() for cell in cells):
                rows.append((number, cells))
    except csv.Error as err:
        problem = next((plain for words, plain in _CSV_MISTAKES.items() if str(err).startswith(words)), None)
        said = problem or "its quotes or commas are not as a CSV file writes them"
        raise refuse_field("file", f"row {number + 1} cannot be read as CSV: {said}") from err
    if not rows:
        raise refuse_field("file", "the file has no rows")
    return rows


def _refuse_too_many(count: int) -> None:
    """Refuse a file of more practices than any LMC has, before a row of it is checked, saved or emailed."""
    if count > MAX_ROWS:
        raise refuse_field(
            "file",
            f"the file has {count:,} rows of practices, more than the {MAX_ROWS:,} one file may hold (England has "
            "about 6,300 practices); load only the LMC's own practices, or split the file",
        )


def _columns(cells: list[str]) -> Columns:
    """Where each field is, by any of the names the ODS file or the LMC give its column; refused, naming the
    missing columns as the file should name them, if the file lacks one it cannot do without."""
    header = [cell.strip().lower() for cell in cells]
    at = {key: next((header.index(n) for n in names if n in header), None) for key, names in _COLUMNS.items()}
    missing = [column for key, column in _REQUIRED.items() if at[key] is None]
    if missing:
        raise refuse_field(
            "file",
            "the first row must name the columns: Organisation Code, Name, Address Line 1 to 5, Postcode, "
            f"Commissioner, Status Code and Contact Email; it has no {' and no '.join(missing)} column",
        )
    return Columns(at, [header.index(n) for n in _ADDRESS if n in header], _width(header))


def _width(cells: list[str]) -> int:
    """The columns a row fills, up to its last cell with anything in it (spreadsheets add empty ones)."""
    return next((i + 1 for i in range(len(cells) - 1, -1, -1) if cells[i].strip()), 0)


def _misshapen(cells: list[str], columns: Columns) -> str | None:
    """Why a row cannot be read under the header's columns, or None: with a cell short, or one too many,
    every cell after it would be read as the wrong field ('is not an email address' for a missing name). A row
    short of trailing optional cells only (some exports drop empty ones at the end) is read as it is."""
    width = columns.width
    required_at = [columns.at[key] for key in _REQUIRED]
    if len(cells) < width and any(at is not None and at >= len(cells) for at in required_at):
        return (
            f"has {counted(len(cells), 'column')} where the first row has {width} "
            "(is a cell missing, or a quote not closed?)"
        )
    if _width(cells) > width:
        return (
            f"has {_width(cells)} columns where the first row has {width} "
            "(is there a comma inside a cell that is not in quotes?)"
        )
    return None


_ODS_CODE = TypeAdapter(OdsCode)


def _ods_code(text: str) -> str | None:
    """The row's ODS code as the gate writes it (so 'g82022' and 'G82022' are one practice); None if it is not
    one (the gate says why)."""
    try:
        return _ODS_CODE.validate_python(text)
    except ValidationError:
        return None


def _cell(cells: list[str], at: int | None) -> str:
    return cells[at].strip() if at is not None and at < len(cells) else ""  # a trailing cell left out: empty


def _as_data(cells: list[str], columns: Columns) -> dict[str, str | bool]:
    """One row's cells as the fields of a `PracticeEntry`, for the gate to check."""
    return {
        "ods": _cell(cells, columns.at["ods"]),
        "name": _cell(cells, columns.at["name"]),
        "address": ", ".join(p for p in (_cell(cells, i) for i in columns.address_at) if p),
        "icb": _cell(cells, columns.at["icb"]),
        "email": _cell(cells, columns.at["email"]),
        "active": _cell(cells, columns.at["status"]).upper() not in ("C", "CLOSED"),
    }


def read_file(path: Path) -> str:
    """The file's text, read no further than `MAX_BYTES` (a file past it is refused unread)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as err:
        raise refuse_field("file", f"cannot read {path}: {err.strerror or err}") from err
    if len(data) > MAX_BYTES:
        raise refuse_field(
            "file",
            f"{path} is larger than the {MAX_BYTES // (1024 * 1024)} MB a file of practices may be; load only the "
            "LMC's own practices, or split the file",
        )
    try:
        return data.decode("utf-8-sig")  # with or without the byte-order mark Windows editors write
    except UnicodeDecodeError as err:
        raise refuse_field("file", f"{path} is not UTF-8 text (save it from the spreadsheet as CSV UTF-8)") from err


async def load(settings: Settings, engine: Engine, path: Path, now: datetime | None = None) -> LoadResult:
    """Add or update the practices in the file, and send each new or changed contact its standing link.
    The whole file is checked first and saved in one transaction: a refused file saves and sends nothing."""
    entries = read_csv(read_file(path))
    when = now or datetime.now(UTC)
    saved = Practices(engine).upsert_all([PracticeRow(**entry.model_dump(), loaded_at=when) for entry in entries])
    result = LoadResult()
    for outcome, stored in saved:
        getattr(result, outcome).append(stored.ods)
    for _, stored in saved:
        if stored.active and stored.link_sent_to != stored.email:
            await send_standing_link(settings, engine, stored, when)
            result.links_sent.append(stored.ods)
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
