"""An incident's practice list, stored once before its workflow starts, keyed by its reference.

An incident can name every practice in England. Carried in the workflow's start payload, the
list would grow past what Temporal accepts (2 MB a payload); here it is written once and each
cohort reads its own chunk through an activity, so every payload stays bounded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, func
from sqlmodel import JSON, Column, Field, Session, SQLModel, col, select


class IncidentPracticeRow(SQLModel, table=True):
    __tablename__ = "incident_practice"

    parent_id: str = Field(primary_key=True, max_length=64)
    position: int = Field(primary_key=True)
    ods: str = Field(max_length=12, index=True)
    practice: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class IncidentPractices:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def store(self, parent_id: str, practices: list[dict[str, Any]]) -> None:
        """Idempotent: a retried start writes the same rows again in one transaction, never twice."""
        with Session(self._engine) as session:
            session.execute(delete(IncidentPracticeRow).where(col(IncidentPracticeRow.parent_id) == parent_id))
            session.add_all(
                IncidentPracticeRow(parent_id=parent_id, position=n, ods=str(p["ods"]), practice=p)
                for n, p in enumerate(practices)
            )
            session.commit()

    def chunk(self, parent_id: str, offset: int, limit: int) -> list[dict[str, Any]]:
        """Practices `offset` to `offset + limit - 1`, in the order the officer listed them."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(IncidentPracticeRow)
                .where(IncidentPracticeRow.parent_id == parent_id)
                .where(IncidentPracticeRow.position >= offset)
                .where(IncidentPracticeRow.position < offset + limit)
                .order_by(col(IncidentPracticeRow.position))
            )
            return [row.practice for row in rows]

    def count(self, parent_id: str) -> int:
        with Session(self._engine) as session:
            found = session.exec(
                select(func.count()).select_from(IncidentPracticeRow).where(IncidentPracticeRow.parent_id == parent_id)
            ).one()
            return int(found)

    def listed(self, parent_id: str, codes: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        """Where each of `codes` sits in the list (so which cohort runs it), and its entry."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(IncidentPracticeRow)
                .where(IncidentPracticeRow.parent_id == parent_id)
                .where(col(IncidentPracticeRow.ods).in_(codes))
            )
            return {row.ods: (row.position, row.practice) for row in rows}

    def missing_returns(self, parent_id: str, returned: set[str], shown: int) -> tuple[int, list[str]]:
        """How many listed practices are not in `returned`, and the first `shown` of them by code."""
        missing: list[str] = []
        with Session(self._engine) as session:
            rows = session.exec(
                select(IncidentPracticeRow.ods)
                .where(IncidentPracticeRow.parent_id == parent_id)
                .order_by(col(IncidentPracticeRow.ods))
            )
            count = 0
            for ods in rows:
                if ods not in returned:
                    count += 1
                    if len(missing) < shown:
                        missing.append(ods)
        return count, missing
