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

ALL: list[SearchAttributeKey[Any]] = [KIND, STATUS, PAYER, BALL_HOLDER, LADDER_LEVEL, OVERDUE, STALLED, NEXT_DEADLINE]


def server_flags() -> list[str]:
    """`--search-attribute` flags that register these with `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "INT": "Int", "BOOL": "Bool", "DATETIME": "Datetime"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
