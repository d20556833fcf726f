"""An incident's per-practice money (claims, late returns, shares) while its workflow continues as new.

At 20,000 practices these are tens of thousands of entries: carried in the next run's input they would pass
what a payload should hold, so the run that continues writes them here a page at a time, and the next reads
them back the same way (`activities.incident_lists`). A page written again (a retried activity, or a later
run continuing) replaces its rows: never a duplicate.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Engine
from sqlmodel import Column, Field, Session, SQLModel, col, select

from domain.incident import TallyEntry


class IncidentTallyRow(SQLModel, table=True):
    __tablename__ = "incident_tally"

    parent_id: str = Field(primary_key=True, max_length=64)
    ods: str = Field(primary_key=True, max_length=12)
    claimed_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    share_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    late: bool = False
    position: int | None = None


class IncidentTallies:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, parent_id: str, entries: list[TallyEntry]) -> None:
        """Upsert `entries` in one transaction."""
        with Session(self._engine) as session:
            for entry in entries:  # merge: by primary key, an update where the row exists
                session.merge(IncidentTallyRow(parent_id=parent_id, **entry.model_dump()))
            session.commit()

    def page(self, parent_id: str, after_ods: str, limit: int) -> list[TallyEntry]:
        """Up to `limit` entries with codes after `after_ods`, by code."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(IncidentTallyRow)
                .where(IncidentTallyRow.parent_id == parent_id)
                .where(col(IncidentTallyRow.ods) > after_ods)
                .order_by(col(IncidentTallyRow.ods))
                .limit(limit)
            )
            return [TallyEntry.model_validate(row, from_attributes=True) for row in rows]
