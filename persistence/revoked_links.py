"""Links an officer has withdrawn: every link issued to one recipient of one escalation (the contact
left, the email was forwarded). Checked on every use of a link, in every replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel


class RevokedLink(SQLModel, table=True):
    __tablename__ = "revoked_link"

    escalation_id: str = Field(primary_key=True, max_length=64)
    recipient: str = Field(primary_key=True, max_length=320)
    revoked_at: datetime
    revoked_by: str = Field(max_length=320)
    reason: str = Field(max_length=2000)
    contact_instead: str | None = Field(default=None, max_length=320)  # whom the page tells them to contact


class RevokedLinks:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def revoke(
        self, escalation_id: str, recipient: str, now: datetime, by: str, reason: str, contact_instead: str | None
    ) -> bool:
        """Withdraw `recipient`'s links to `escalation_id`; False if they were withdrawn already."""
        try:
            with Session(self._engine) as session:
                session.add(
                    RevokedLink(
                        escalation_id=escalation_id,
                        recipient=recipient.lower(),
                        revoked_at=now,
                        revoked_by=by,
                        reason=reason,
                        contact_instead=contact_instead,
                    )
                )
                session.commit()
            return True
        except IntegrityError:
            return False

    def find(self, escalation_id: str, recipient: str) -> RevokedLink | None:
        with Session(self._engine) as session:
            return session.get(RevokedLink, (escalation_id, recipient.lower()))
