"""Practice-return activities: store a practice's latest return; read them all at close."""

from __future__ import annotations

from temporalio import activity

from activities.uncancelled import uncancelled
from domain.practice_return import ReturnEffect, ReturnRecord
from persistence.practice_returns import PracticeReturns


class ReturnActivities:
    def __init__(self, store: PracticeReturns) -> None:
        self._store = store

    @activity.defn(name="record_return")
    def record_return(self, effect: ReturnEffect) -> None:
        """Idempotent: the row is keyed by (incident, practice) and holds the latest return."""
        record = effect.record
        with uncancelled():
            self._store.save(effect.parent_id, record.ods, record.model_dump(mode="json"), record.late)

    @activity.defn(name="load_returns")
    def load_returns(self, parent_id: str) -> list[ReturnRecord]:
        return [ReturnRecord.model_validate(row) for row in self._store.for_incident(parent_id)]
