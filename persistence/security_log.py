"""The security log: sign-ins, failures, locks, sign-outs and account changes, who, when and from
where. Append-only (the database refuses UPDATE and DELETE, as for the audit log) and kept apart
from any escalation's audit chain: it is about people's access, not about a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import JSON, Column, Field, Session, SQLModel, col, select


class SecurityEvent(SQLModel, table=True):
    __tablename__ = "security_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(index=True)
    event: str = Field(max_length=40)
    email: str | None = Field(default=None, index=True, max_length=320)
    by: str | None = Field(default=None, max_length=320)  # who did it, when not the account itself
    client: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SecurityLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        event: str,
        now: datetime,
        email: str | None = None,
        client: str | None = None,
        by: str | None = None,
        **detail: Any,
    ) -> None:
        with Session(self._engine) as session:
            session.add(SecurityEvent(occurred_at=now, event=event, email=email, by=by, client=client, detail=detail))
            session.commit()

    def recent(self, limit: int = 200, email: str | None = None) -> list[SecurityEvent]:
        query = select(SecurityEvent).order_by(col(SecurityEvent.id).desc()).limit(limit)
        if email is not None:
            query = query.where(SecurityEvent.email == email.lower())
        with Session(self._engine) as session:
            return list(session.exec(query).all())
