"""The liaison meeting pack as a Word document (python-docx), for the officer to send ahead: the same
sections as the printable page, in the same words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from io import BytesIO

from docx import Document
from docx.document import Document as DocumentObject

from domain.alert_analysis import hours
from domain.working_days import describe_date, describe_deadline
from service.meeting_pack import MeetingPack, PackItem, due_words


def _items(doc: DocumentObject, heading: str, items: list[PackItem], none: str) -> None:
    doc.add_heading(heading, level=1)
    if not items:
        doc.add_paragraph(none)
    for item in items:
        doc.add_heading(f"{item.title} ({item.reference})", level=2)
        doc.add_paragraph(f"{item.kind_label}; status {item.status}; ladder level {item.level}. {item.why}.")
        if item.deadline:
            doc.add_paragraph(f"Deadline: {describe_deadline(datetime.fromisoformat(item.deadline))}")
        ask = doc.add_paragraph()
        ask.add_run("The ask: ").bold = True
        ask.add_run(item.ask)
        if item.history:
            doc.add_paragraph("History:")
            for line in item.history:
                doc.add_paragraph(f"{describe_date(line.on)}: {line.what}", style="List Bullet")


def pack_docx(pack: MeetingPack, label: Callable[[str, str], str] = lambda key, value: value) -> bytes:
    doc = Document()
    doc.core_properties.title = pack.title
    doc.add_heading(pack.title, level=0)
    doc.add_paragraph(pack.intro)
    since = f"Changes since {describe_date(pack.since)}"
    since += " (the previous meeting)." if pack.previous_meeting == pack.since else "."
    doc.add_paragraph(since)
    _items(doc, "Escalations for the agenda", pack.agenda, "No escalation is at the top of the ladder or stalled.")
    _items(doc, "Open incidents", pack.incidents, "No open incident involves this ICB.")
    doc.add_heading("Commitments from earlier meetings", level=1)
    if not pack.commitments:
        doc.add_paragraph("None recorded.")
    else:
        table = doc.add_table(rows=1, cols=5)
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, ("Reference", "Commitment", "Who", "By", "Now"), strict=True):
            cell.text = text
        for c in pack.commitments:
            cells = table.add_row().cells
            values = (c.reference, c.commitment, c.contact, due_words(c.due), c.status)
            for cell, text in zip(cells, values, strict=True):
                cell.text = text
    doc.add_heading(f"Interface alerts from practices since {describe_date(pack.since)}", level=1)
    if not pack.alerts:
        doc.add_paragraph("None reported.")
    else:
        items = sum(a.items for a in pack.alerts)
        minutes = sum(a.staff_minutes for a in pack.alerts)
        doc.add_paragraph(
            f"{len(pack.alerts)} alerts from practices in this ICB, {items} items of work moved onto them, "
            f"{hours(minutes)} of staff time."
        )
        for key, heading in (("category", "Category"), ("provider", "Provider")):
            table = doc.add_table(rows=1, cols=4)
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, (heading, "Alerts", "Items", "Share of items"), strict=True):
                cell.text = text
            for row in pack.alert_shares[key]:
                cells = table.add_row().cells
                shown = (label(key, row.key), str(row.alerts), str(row.items), f"{row.percent}%")
                for cell, text in zip(cells, shown, strict=True):
                    cell.text = text
    doc.add_heading(f"What changed since {describe_date(pack.since)}", level=1)
    if not pack.changes:
        doc.add_paragraph("Nothing recorded.")
    for change in pack.changes:
        doc.add_heading(f"{change.title} ({change.reference})", level=2)
        for line in change.lines:
            doc.add_paragraph(f"{describe_date(line.on)}: {line.what}", style="List Bullet")
    out = BytesIO()
    doc.save(out)
    return out.getvalue()
