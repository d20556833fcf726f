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
]


def server_flags() -> list[str]:
    """`--search-attribute` flags that register these with `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int", "BOOL": "Bool", "DATETIME": "Datetime"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
