"""Reading an incident's stored practice list and its returns a bounded page at a time, so no
activity's input or result grows with the number of practices."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from activities.uncancelled import uncancelled
from domain.incident import ListedReturn, MissingReturns, TallyEntry
from domain.practice_return import Practice
from persistence.incident_practices import IncidentPractices
from persistence.incident_tallies import IncidentTallies
from persistence.practice_returns import PracticeReturns

RETURNS_PAGE = 500
"""Returns per page: a deregistration return of many groups is a few hundred bytes, so a page stays well
under 256 KB."""
MISSING_SHOWN = 50
TALLY_PAGE = 1_000
"""Per-practice entries a page (`TallyEntry`, under 100 bytes each as JSON): about 100 KB at most."""


class PracticeChunk(BaseModel):
    """A cohort's slice of its incident's stored list."""

    parent_id: str
    offset: int
    limit: int


class ReturnsPageRequest(BaseModel):
    parent_id: str
    after_ods: str = ""
    limit: int = RETURNS_PAGE


class ListedQuery(BaseModel):
    parent_id: str
    ods: str


class ReturnsPage(BaseModel):
    records: list[ListedReturn]
    last: bool


class TallyPage(BaseModel):
    """Some of an incident's per-practice money, as written before it continues as new, or as read back."""

    parent_id: str
    entries: list[TallyEntry]
    last: bool = True


class TallyPageRequest(BaseModel):
    parent_id: str
    after_ods: str = ""


class IncidentListActivities:
    def __init__(self, practices: IncidentPractices, returns: PracticeReturns, tallies: IncidentTallies) -> None:
        self._practices = practices
        self._returns = returns
        self._tallies = tallies

    @activity.defn(name="load_practice_chunk")
    def load_practice_chunk(self, chunk: PracticeChunk) -> list[Practice]:
        rows = self._practices.chunk(chunk.parent_id, chunk.offset, chunk.limit)
        if not rows:
            raise RuntimeError(f"{chunk.parent_id} has no stored practices at {chunk.offset}")  # retried
        return [Practice.model_validate(row) for row in rows]

    @activity.defn(name="load_returns_page")
    def load_returns_page(self, request: ReturnsPageRequest) -> ReturnsPage:
        limit = min(request.limit, RETURNS_PAGE)
        rows = self._returns.page(request.parent_id, request.after_ods, limit)
        listed = self._practices.listed(request.parent_id, [str(row["ods"]) for row in rows])
        records = []
        for row in rows:
            position, entry = listed.get(str(row["ods"]), (None, {}))
            records.append(
                ListedReturn.model_validate(
                    {**row, "position": position, "weighting": entry.get("weighting"), "name": entry.get("name")}
                )
            )
        return ReturnsPage(records=records, last=len(rows) < limit)

    @activity.defn(name="is_listed")
    def is_listed(self, query: ListedQuery) -> bool:
        return bool(self._practices.listed(query.parent_id, [query.ods]))

    @activity.defn(name="missing_returns")
    def missing_returns(self, parent_id: str) -> MissingReturns:
        count, first = self._practices.missing_returns(parent_id, self._returns.codes(parent_id), MISSING_SHOWN)
        return MissingReturns(count=count, first=first)

    @activity.defn(name="save_tally_page")
    def save_tally_page(self, page: TallyPage) -> None:
        with uncancelled():
            self._tallies.save(page.parent_id, page.entries)

    @activity.defn(name="load_tally_page")
    def load_tally_page(self, request: TallyPageRequest) -> TallyPage:
        entries = self._tallies.page(request.parent_id, request.after_ods, TALLY_PAGE)
        return TallyPage(parent_id=request.parent_id, entries=entries, last=len(entries) < TALLY_PAGE)
