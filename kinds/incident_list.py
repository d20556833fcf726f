"""An incident's practice list, taken out of its start model to be stored once (`service.starting`),
leaving the count and the codes conflicts of interest need."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def count(start: Any) -> int:
    """How many practices a start names, listed or stored."""
    return len(start.practices) or int(start.practice_count)


def split(start: Any) -> tuple[list[dict[str, Any]], BaseModel]:
    """`start`'s practices as rows to store (with each entry's weighting, if the kind has one), and the
    start model without them. A start already split is returned as it is, with no rows."""
    if not start.practices:
        return [], start
    rows = []
    for practice, entry in zip(start.practices, start.request.practices, strict=True):
        row = practice.model_dump(mode="json")
        weighting = getattr(entry, "weighting", None)
        if weighting is not None:
            row["weighting"] = str(weighting)
        rows.append(row)
    interested = {interest.party.upper() for interest in start.lmc.interests}
    parties = sorted({p.ods for p in start.practices} & interested)
    slim = start.model_copy(
        update={
            "practices": [],
            "practice_count": len(rows),
            "practice_parties": parties,
            "request": start.request.model_copy(update={"practices": []}),
        }
    )
    return rows, slim
