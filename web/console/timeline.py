"""The audit timeline as an officer reads it: each event's content in words (who, what, the values, the
message sent), each row's place in the hash chain, and every deadline the escalation has had."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import wording
from domain.money import format_pence
from domain.working_days import describe_deadline
from persistence.audit_log import AuditRecord, ChainCheck

DEADLINE_WORDS = ("deadline", "due", "payment_date", "returns_close")


@dataclass(frozen=True)
class Entry:
    seq: int
    occurred_at: datetime
    event: str
    actor: str
    content: list[tuple[str, str]]
    message_id: str | None
    hash: str
    chained: bool  # this row's hash chain checked out (the rows after a break are not)


def _label(key: str) -> str:
    return key.removesuffix("_pence").replace("_", " ").capitalize()


HIDDEN = ("message_id", "submission")
"""Keys an officer has no use for on the page: the message's own ID (a link to it is shown) and a form's
one-time submission ID (which makes a form sent twice count once)."""
STATUS_KEYS = ("status", "status_before", "status_after", "from_status", "to_status", "outcome")


def _value(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in STATUS_KEYS and isinstance(value, str):
        return wording.outcome(value) if key == "outcome" else wording.status(value)
    if key == "purpose" and isinstance(value, str):
        return value.replace("-", " ").replace("_", " ")
    if key.endswith("_pence") and isinstance(value, int):
        return format_pence(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(key, v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {_value(k, v)}" for k, v in value.items()) or "none"
    if isinstance(value, str) and any(word in key for word in DEADLINE_WORDS):
        try:
            return describe_deadline(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def entries(rows: list[AuditRecord], chain: ChainCheck) -> list[Entry]:
    """Rows in order; those after the first broken link are marked unchained."""
    broken_at = None if chain.ok else _first_broken(chain)
    return [
        Entry(
            seq=row.seq,
            occurred_at=row.occurred_at,
            event=row.event.replace("_", " ").replace(":", ": "),
            actor=row.actor,
            content=[(_label(k), _value(k, v)) for k, v in row.detail.items() if k not in HIDDEN],
            message_id=row.detail.get("message_id") if isinstance(row.detail.get("message_id"), str) else None,
            hash=row.hash[:12],
            chained=broken_at is None or row.seq < broken_at,
        )
        for row in rows
    ]


def _first_broken(chain: ChainCheck) -> int:
    """The step `AuditLog.verify` found broken ("step 7: ...")."""
    found = re.match(r"step (\d+)", chain.problem or "")
    return int(found.group(1)) if found else 0


def deadlines(rows: list[AuditRecord], case: dict[str, Any]) -> list[tuple[str, str]]:
    """Every deadline the escalation has set, as the timeline and its state record them."""
    found: list[tuple[str, str]] = []
    for row in rows:
        for key, value in row.detail.items():
            if isinstance(value, str) and any(word in key for word in DEADLINE_WORDS):
                what = row.event.replace("_", " ")
                found.append((f"{what[:1].upper()}{what[1:]} ({row.occurred_at:%-d %b %Y})", _value(key, value)))
    for key, value in case.items():
        if isinstance(value, str) and any(word in key for word in DEADLINE_WORDS):
            found.append((_label(key), _value(key, value)))
    return found
