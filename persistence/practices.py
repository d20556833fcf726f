"""The LMC's practices and the interface alerts they report.

A practice row comes from the ODS GP practice file (code, name, address, ICB) with the contact email the
LMC adds; loading the file again updates it. An alert row is the index of one reported alert (its
escalation runs in Temporal): what the practice's page lists, and what the officer's pattern view and the
analysis count. Neither holds anything about patients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from domain.interface_alert import IndexAlert


class PracticeRow(SQLModel, table=True):
    __tablename__ = "lmc_practice"

    ods: str = Field(primary_key=True, max_length=6)
    name: str = Field(max_length=200)
    address: str = Field(default="", max_length=600)
    icb: str = Field(default="", max_length=12)
    email: str = Field(max_length=320)
    active: bool = True
    loaded_at: datetime
    link_sent_at: datetime | None = None
    link_sent_to: str | None = Field(default=None, max_length=320)
    link_generation: int = 0  # the standing link's number: a new one is issued when the email changes


class AlertRow(SQLModel, table=True):
    __tablename__ = "practice_alert"

    reference: str = Field(primary_key=True, max_length=64)
    ods: str = Field(max_length=6, index=True)
    provider: str = Field(max_length=12, index=True)
    category: str = Field(max_length=60)
    service: str = Field(max_length=200)
    occurred_on: date = Field(index=True)
    document_ref: str = Field(max_length=200)
    items: int
    staff_minutes: int
    risk: str = Field(max_length=10)
    reported_at: datetime
    claim_ref: str | None = Field(default=None, max_length=64, index=True)


class Practices:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert(self, row: PracticeRow) -> tuple[str, PracticeRow]:
        """Add or update one practice: "added", "updated" or "unchanged", and the row as stored."""
        [outcome] = self.upsert_all([row])
        return outcome

    def upsert_all(self, rows: Sequence[PracticeRow]) -> list[tuple[str, PracticeRow]]:
        """Add or update practices in one transaction, so a file is saved whole or (the database failing part
        way) not at all: for each, "added", "updated" or "unchanged", and the row as stored."""
        with Session(self._engine, expire_on_commit=False) as session:
            stored = {row.ods: row for row in session.exec(select(PracticeRow))}  # the LMC's few thousand at most
            outcomes = [_merge(session, stored.get(row.ods), row) for row in rows]
            session.commit()
            return outcomes

    def get(self, ods: str) -> PracticeRow | None:
        with Session(self._engine) as session:
            return session.get(PracticeRow, ods.upper())

    def all(self) -> list[PracticeRow]:
        with Session(self._engine) as session:
            return list(session.exec(select(PracticeRow).order_by(col(PracticeRow.ods))))

    def link_sent(self, ods: str, to: str, when: datetime, generation: int) -> None:
        with Session(self._engine) as session:
            found = session.get(PracticeRow, ods)
            if found is not None:
                found.link_sent_at, found.link_sent_to, found.link_generation = when, to, generation
                session.add(found)
                session.commit()


def _merge(session: Session, found: PracticeRow | None, row: PracticeRow) -> tuple[str, PracticeRow]:
    """`row` added to the session, or `found` updated from it, or left as it is if nothing changed."""
    if found is None:
        session.add(row)
        return "added", row
    fields = ("name", "address", "icb", "email", "active")
    if all(getattr(found, f) == getattr(row, f) for f in fields):
        return "unchanged", found
    for f in fields:
        setattr(found, f, getattr(row, f))
    found.loaded_at = row.loaded_at
    session.add(found)
    return "updated", found


class Alerts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def index(self, alert: IndexAlert) -> bool:
        """Index the alert as the domain describes it (`IndexAlert.of`); False if it was indexed already."""
        return self.add(AlertRow(**alert.model_dump(exclude={"kind"})))

    def add(self, row: AlertRow) -> bool:
        """Index a reported alert; False if it was indexed already (the same form sent twice)."""
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                if session.get(AlertRow, row.reference) is not None:
                    return False
                session.add(row)
                session.commit()
                return True
        except IntegrityError:  # the same form, sent twice at once: the other request indexed it
            return False

    def for_practice(self, ods: str) -> list[AlertRow]:
        with Session(self._engine) as session:
            query = select(AlertRow).where(AlertRow.ods == ods).order_by(col(AlertRow.reported_at).desc())
            return list(session.exec(query))

    def between(self, start: date, end: date, provider: str | None = None) -> list[AlertRow]:
        with Session(self._engine) as session:
            query = select(AlertRow).where(AlertRow.occurred_on >= start, AlertRow.occurred_on <= end)
            if provider:
                query = query.where(AlertRow.provider == provider)
            return list(session.exec(query.order_by(col(AlertRow.occurred_on), col(AlertRow.reference))))

    def for_icb(self, icb: str, start: date, end: date) -> list[AlertRow]:
        """Alerts from the practices of one ICB (the ODS file's commissioner) about things between the dates."""
        with Session(self._engine) as session:
            query = (
                select(AlertRow)
                .join(PracticeRow, col(PracticeRow.ods) == col(AlertRow.ods))
                .where(PracticeRow.icb == icb.upper(), AlertRow.occurred_on >= start, AlertRow.occurred_on <= end)
                .order_by(col(AlertRow.occurred_on), col(AlertRow.reference))
            )
            return list(session.exec(query))

    def get_many(self, references: Iterable[str]) -> list[AlertRow]:
        wanted = sorted(set(references))
        with Session(self._engine) as session:
            query = select(AlertRow).where(col(AlertRow.reference).in_(wanted)).order_by(col(AlertRow.reference))
            return list(session.exec(query))

    def mark_claimed(self, references: Iterable[str], claim_ref: str) -> None:
        with Session(self._engine) as session:
            for row in session.exec(select(AlertRow).where(col(AlertRow.reference).in_(list(references)))):
                row.claim_ref = claim_ref
                session.add(row)
            session.commit()
