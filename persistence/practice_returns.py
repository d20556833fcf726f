"""Practices' latest returns per incident, read by the incident when returns close.

Written by each practice's workflow (an upsert: a retried write, or a correction,
replaces the row), so the incident never has to hold thousands of returns in history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import JSON, Column, Field, Session, SQLModel, col, select


class PracticeReturnRow(SQLModel, table=True):
    __tablename__ = "practice_return"

    parent_id: str = Field(primary_key=True, max_length=64)
    ods: str = Field(primary_key=True, max_length=6)
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    late: bool = False
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class PracticeReturns:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, parent_id: str, ods: str, record: dict[str, Any], late: bool) -> None:
        with Session(self._engine) as session:
            row = session.get(PracticeReturnRow, (parent_id, ods))
            if row is None:
                row = PracticeReturnRow(parent_id=parent_id, ods=ods, record=record, late=late)
            else:
                row.record, row.late, row.updated_at = record, late, datetime.now(UTC)
            session.add(row)
            session.commit()

    def for_incident(self, parent_id: str) -> list[dict[str, Any]]:
        with Session(self._engine) as session:
            rows = session.exec(select(PracticeReturnRow).where(PracticeReturnRow.parent_id == parent_id))
            return [row.record for row in rows]

    def page(self, parent_id: str, after_ods: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` returns with codes after `after_ods`, by code: an incident reads them a page at a time."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(PracticeReturnRow)
                .where(PracticeReturnRow.parent_id == parent_id)
                .where(col(PracticeReturnRow.ods) > after_ods)
                .order_by(col(PracticeReturnRow.ods))
                .limit(limit)
            )
            return [row.record for row in rows]

    def codes(self, parent_id: str) -> set[str]:
        with Session(self._engine) as session:
            return set(session.exec(select(PracticeReturnRow.ods).where(PracticeReturnRow.parent_id == parent_id)))
