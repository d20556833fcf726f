"""A ledger of emails handed to SMTP, keyed by Message-ID, so a retried send does not repeat."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Engine, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select


class SentEmail(SQLModel, table=True):
    __tablename__ = "sent_email"

    message_id: str = Field(primary_key=True, max_length=255)
    escalation_id: str = Field(index=True, max_length=64)
    purpose: str = Field(max_length=120)
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=500)
    sent_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    raw: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # as the recipient received it


class SentMailLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def already_sent(self, message_id: str) -> bool:
        with Session(self._engine) as session:
            return session.get(SentEmail, message_id) is not None

    def mark_sent(self, row: SentEmail) -> None:
        with Session(self._engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    def for_escalation(self, escalation_id: str) -> list[SentEmail]:
        with Session(self._engine) as session:
            return list(
                session.exec(
                    select(SentEmail).where(SentEmail.escalation_id == escalation_id).order_by(col(SentEmail.sent_at))
                ).all()
            )
