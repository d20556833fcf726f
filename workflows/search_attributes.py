"""Typed search attributes ops filter on. Nothing sensitive: kinds, states, codes, dates."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

KIND = SearchAttributeKey.for_keyword("EscalationKind")
STATUS = SearchAttributeKey.for_keyword("EscalationStatus")
PAYER = SearchAttributeKey.for_keyword("PayerCode")
BALL_HOLDER = SearchAttributeKey.for_keyword("BallHolder")
LADDER_LEVEL = SearchAttributeKey.for_int("LadderLevel")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
STALLED = SearchAttributeKey.for_bool("Stalled")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
UNDERPAID = SearchAttributeKey.for_bool("Underpaid")
"""Less has been received than was agreed (a claim) or shared (a practice), whether the officer is still
deciding, is chasing the rest, or accepted the shortfall (the status says which). Published by cases
opened under the money-and-dates rules only: an older run's upserts keep the keys they were recorded with."""

TITLE = SearchAttributeKey.for_text("EscalationTitle")
"""The escalation's title, for the console's text search (a title never carries patient data: the gate refuses it)."""
PRACTICES = SearchAttributeKey.for_keyword_list("PracticeCodes")
"""The ODS codes of the practices the escalation is for (its own, not a parent's)."""
CONTACTS = SearchAttributeKey.for_keyword_list("ContactEmails")
"""The work addresses of the payer's and practices' contacts (NHS staff, never patients)."""
PRACTICE_COUNT = SearchAttributeKey.for_int("PracticeCount")
CLAIMED = SearchAttributeKey.for_keyword("ClaimedPence")
AGREED = SearchAttributeKey.for_keyword("AgreedPence")
PAID = SearchAttributeKey.for_keyword("PaidPence")
"""Money in pence as zero-padded digits (`pence_keyword`): SQL visibility has only three Int columns (one is the
ladder level) and a Double would make money a float; padded, the text orders as the number does."""
EMAILS_HELD = SearchAttributeKey.for_keyword("EmailsHeld")
"""'yes' while an email of this escalation is held for ops' decision (a send cut off, or one that cannot go as
it is), else 'no' (a Keyword: SQL visibility's three Bool columns are taken)."""
CONSOLE: list[SearchAttributeKey[Any]] = [
    TITLE,
    PRACTICES,
    CONTACTS,
    PRACTICE_COUNT,
    CLAIMED,
    AGREED,
    PAID,
    EMAILS_HELD,
]
"""What the console's dashboard rows need beyond the filters: published by runs under the
console-listing rules (domain.escalation.CONSOLE_LISTING), so one visibility query fills a page with no call per row."""

PENCE_DIGITS = 13


def pence_keyword(pence: int) -> str:
    """An amount as its search attribute holds it: '0000000123450' for £1,234.50."""
    return str(max(pence, 0)).zfill(PENCE_DIGITS)


def pence_of(keyword: str | None) -> int | None:
    return int(keyword) if keyword and keyword.isdigit() else None


ALL: list[SearchAttributeKey[Any]] = [
    KIND,
    STATUS,
    PAYER,
    BALL_HOLDER,
    LADDER_LEVEL,
    OVERDUE,
    STALLED,
    NEXT_DEADLINE,
    UNDERPAID,
    *CONSOLE,
]


def server_flags() -> list[str]:
    """`--search-attribute` flags that register these with `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int", "BOOL": "Bool", "DATETIME": "Datetime", "TEXT": "Text",
             "KEYWORD_LIST": "KeywordList"}  # fmt: skip
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
