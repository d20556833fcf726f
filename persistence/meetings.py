"""LMC-ICB liaison meetings as recorded by the officer afterwards: each record of a meeting (one form
sent), and its outcomes, some of them commitments the ICB made, each chased as its own escalation.
Append-only (the database refuses UPDATE and DELETE, as for the audit log): a correction is a
later record, never an edit, so what was minuted stays as it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select


class MeetingRecord(SQLModel, table=True):
    """One sending of the outcomes form for one ICB's meeting on one date."""

    __tablename__ = "liaison_meeting_record"

    id: int | None = Field(default=None, primary_key=True)
    submission: str = Field(max_length=64, unique=True)  # the form's one-time id: sent twice, stored once
    payer_code: str = Field(index=True, max_length=12)
    meeting_date: date = Field(index=True)
    recorded_by: str = Field(max_length=320)
    recorded_at: datetime


class MeetingOutcome(SQLModel, table=True):
    """What was agreed about one item; with `commitment` set, what the ICB undertook to do, who, by when."""

    __tablename__ = "liaison_meeting_outcome"
    __table_args__ = (UniqueConstraint("commitment_id", name="uq_liaison_commitment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(index=True, foreign_key="liaison_meeting_record.id")
    item: str | None = Field(default=None, max_length=64)  # the escalation discussed; None for other business
    outcome: str = Field(max_length=2000)
    commitment: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=320)
    due: date | None = None
    commitment_id: str | None = Field(default=None, max_length=64)  # the escalation that chases it


@dataclass(frozen=True)
class NewOutcome:
    item: str | None
    outcome: str
    commitment: str | None = None
    contact_email: str | None = None
    due: date | None = None


@dataclass(frozen=True)
class RecordedOutcome:
    payer_code: str
    meeting_date: date
    recorded_by: str
    recorded_at: datetime
    item: str | None
    outcome: str
    commitment: str | None
    contact_email: str | None
    due: date | None
    commitment_id: str | None


def commitment_reference(payer_code: str, meeting_date: date, number: int) -> str:
    """`LIA-QKS-2026-12-01-C1`: the ICB, the meeting and the commitment's number, nothing about patients."""
    return f"LIA-{payer_code.upper()}-{meeting_date.isoformat()}-C{number}"


class Meetings:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def record(
        self,
        submission: str,
        payer_code: str,
        meeting_date: date,
        recorded_by: str,
        recorded_at: datetime,
        outcomes: list[NewOutcome],
    ) -> list[RecordedOutcome]:
        """Store one form's outcomes, numbering its commitments after the meeting's earlier ones; the
        same submission sent again stores nothing more and answers what the first stored."""
        with Session(self._engine) as session:
            if (found := self._record_of(session, submission)) is not None:
                return self._outcomes(session, [found])
            earlier = len(
                [o for o in self._outcomes(session, self._records(session, payer_code, meeting_date)) if o.commitment]
            )
            record = MeetingRecord(
                submission=submission,
                payer_code=payer_code.upper(),
                meeting_date=meeting_date,
                recorded_by=recorded_by,
                recorded_at=recorded_at,
            )
            session.add(record)
            session.flush()
            assert record.id is not None
            for new in outcomes:
                reference = None
                if new.commitment:
                    earlier += 1
                    reference = commitment_reference(payer_code, meeting_date, earlier)
                session.add(
                    MeetingOutcome(
                        record_id=record.id,
                        item=new.item,
                        outcome=new.outcome,
                        commitment=new.commitment,
                        contact_email=new.contact_email,
                        due=new.due,
                        commitment_id=reference,
                    )
                )
            try:
                session.commit()
            except IntegrityError:  # the same form, or another officer's for this meeting, won the race
                session.rollback()
                if (found := self._record_of(session, submission)) is not None:
                    return self._outcomes(session, [found])
                raise
            return self._outcomes(session, [record])

    def outcomes(self, payer_code: str, meeting_date: date | None = None) -> list[RecordedOutcome]:
        """Every outcome recorded for an ICB's meetings (one meeting's, with a date), oldest first."""
        with Session(self._engine) as session:
            return self._outcomes(session, self._records(session, payer_code, meeting_date))

    def meeting_dates(self, payer_code: str) -> list[date]:
        """The dates of an ICB's meetings with anything recorded, oldest first."""
        with Session(self._engine) as session:
            return sorted({r.meeting_date for r in self._records(session, payer_code, None)})

    def previous_meeting(self, payer_code: str, before: date) -> date | None:
        earlier = [d for d in self.meeting_dates(payer_code) if d < before]
        return earlier[-1] if earlier else None

    @staticmethod
    def _record_of(session: Session, submission: str) -> MeetingRecord | None:
        return session.exec(select(MeetingRecord).where(MeetingRecord.submission == submission)).first()

    @staticmethod
    def _records(session: Session, payer_code: str, meeting_date: date | None) -> list[MeetingRecord]:
        query = select(MeetingRecord).where(MeetingRecord.payer_code == payer_code.upper())
        if meeting_date is not None:
            query = query.where(MeetingRecord.meeting_date == meeting_date)
        return list(session.exec(query.order_by(col(MeetingRecord.id))).all())

    @staticmethod
    def _outcomes(session: Session, records: list[MeetingRecord]) -> list[RecordedOutcome]:
        by_id = {r.id: r for r in records}
        if not by_id:
            return []
        rows = session.exec(
            select(MeetingOutcome)
            .where(col(MeetingOutcome.record_id).in_(list(by_id)))
            .order_by(col(MeetingOutcome.id))
        ).all()
        found = []
        for row in rows:
            record = by_id[row.record_id]
            found.append(
                RecordedOutcome(
                    payer_code=record.payer_code,
                    meeting_date=record.meeting_date,
                    recorded_by=record.recorded_by,
                    recorded_at=record.recorded_at,
                    item=row.item,
                    outcome=row.outcome,
                    commitment=row.commitment,
                    contact_email=row.contact_email,
                    due=row.due,
                    commitment_id=row.commitment_id,
                )
            )
        return found
