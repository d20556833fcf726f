"""The append-only audit log: one row per step of an escalation, hash-chained per escalation.

Rows are keyed by (escalation_id, seq), the workflow's own step counter, so a retried
activity finds its row already written instead of adding a second. Each row's hash covers
its content and the previous row's hash; `verify` recomputes the chain to show nothing was
altered, removed or reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import JSON, Column, Field, Session, SQLModel, col, select

GENESIS = "0" * 64


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"
    __table_args__ = (UniqueConstraint("escalation_id", "seq", name="uq_audit_escalation_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: str = Field(index=True, max_length=64)
    seq: int
    occurred_at: datetime
    event: str = Field(max_length=80)
    actor: str = Field(max_length=320)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def _digest(
    prev_hash: str, escalation_id: str, seq: int, occurred_at: datetime, event: str, actor: str, detail: dict[str, Any]
) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "escalation_id": escalation_id,
            "seq": seq,
            "occurred_at": _utc(occurred_at).isoformat(),
            "event": event,
            "actor": actor,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _utc(instant: datetime) -> datetime:
    # SQLite hands datetimes back naive; every time stored here is UTC.
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _chained(
    prev_hash: str, escalation_id: str, seq: int, occurred_at: datetime, event: str, actor: str, detail: dict[str, Any]
) -> AuditRecord:
    """Step `seq` as a row chained from `prev_hash` (`detail` already as JSON keeps it)."""
    return AuditRecord(
        escalation_id=escalation_id,
        seq=seq,
        occurred_at=_utc(occurred_at),
        event=event,
        actor=actor,
        detail=detail,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, escalation_id, seq, occurred_at, event, actor, detail),
    )


class AuditEntryRow(Protocol):
    """A step as `append_many` takes it (the audit activity's entry)."""

    escalation_id: str
    seq: int
    occurred_at: datetime
    event: str
    actor: str
    detail: dict[str, Any]


class _OutOfOrder(Exception):
    """A step that is not the next in its chain: written one by one instead."""


class AuditGap(Exception):
    """A step whose step before it is not written yet. Two writers share a practice's chain (its cohort writes its
    opening rows, the practice the rest), so a practice's step may come before its cohort's last opening row has
    landed: chained from the row before that, it would break the chain for good. Raised, so the activity writing it
    is retried until the row it follows is there. No escalation skips a step: each reserves a row per step."""

    def __init__(self, escalation_id: str, seq: int) -> None:
        super().__init__(f"{escalation_id}: audit step {seq} waits for step {seq - 1} to be written")


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    rows: int
    problem: str | None = None


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(
        self, escalation_id: str, seq: int, occurred_at: datetime, event: str, actor: str, detail: dict[str, Any]
    ) -> AuditRecord:
        """Write step `seq` once; a repeat of the same step returns the row already there. (The row as written
        carries its times as given; one read back, as the database keeps them: compare hashes, not times.)"""
        detail = json.loads(json.dumps(detail, default=str))
        # One read finds both the step itself (written before: a retry) and the one it chains from; the row is
        # kept as written rather than read back after the commit. A practice's opening writes two rows, so at
        # thousands of practices these statements are a good part of the worker's time.
        with Session(self._engine, expire_on_commit=False) as session:
            latest = session.exec(
                select(AuditRecord)
                .where(AuditRecord.escalation_id == escalation_id, AuditRecord.seq <= seq)
                .order_by(col(AuditRecord.seq).desc())
                .limit(1)
            ).first()
            if latest is not None and latest.seq == seq:
                return latest
            if (latest.seq if latest else 0) != seq - 1:  # its step before is not written yet: retried until it is
                raise AuditGap(escalation_id, seq)
            row = _chained(latest.hash if latest else GENESIS, escalation_id, seq, occurred_at, event, actor, detail)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # a concurrent retry of the same step won the race
                session.rollback()
                winner = self._row(session, escalation_id, seq)
                assert winner is not None
                return winner
            return row

    def append_many(self, entries: Sequence[AuditEntryRow]) -> None:
        """Write many steps, of one escalation or many, in one transaction: what a cohort opening twenty
        practices at once writes. Each escalation's steps must come in `seq` order; a step already written (a
        retry) is kept as it is, and the next chains from it. Should another writer race this one to a step,
        the steps are written one by one instead (`append`), each as idempotent as ever."""
        if not entries:
            return
        ids = sorted({entry.escalation_id for entry in entries})
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                written: dict[tuple[str, int], str] = {}
                latest: dict[str, tuple[int, str]] = {}
                for row in session.exec(select(AuditRecord).where(col(AuditRecord.escalation_id).in_(ids))).all():
                    written[(row.escalation_id, row.seq)] = row.hash
                    if row.escalation_id not in latest or row.seq > latest[row.escalation_id][0]:
                        latest[row.escalation_id] = (row.seq, row.hash)
                for entry in entries:
                    if (entry.escalation_id, entry.seq) in written:
                        continue
                    seq, prev_hash = latest.get(entry.escalation_id, (0, GENESIS))
                    if seq != entry.seq - 1:  # not next in its chain: `append` writes it, or says what it waits for
                        raise _OutOfOrder(entry.escalation_id)
                    row = _chained(
                        prev_hash,
                        entry.escalation_id,
                        entry.seq,
                        entry.occurred_at,
                        entry.event,
                        entry.actor,
                        json.loads(json.dumps(entry.detail, default=str)),
                    )
                    session.add(row)
                    written[(entry.escalation_id, entry.seq)] = row.hash
                    latest[entry.escalation_id] = (entry.seq, row.hash)
                session.commit()
        except (IntegrityError, _OutOfOrder):
            for entry in entries:
                self.append(entry.escalation_id, entry.seq, entry.occurred_at, entry.event, entry.actor, entry.detail)

    def append_next(
        self, escalation_id: str, occurred_at: datetime, event: str, actor: str, detail: dict[str, Any]
    ) -> AuditRecord:
        """A step written from outside the workflow, after its last (used once the workflow has stopped)."""
        rows = self.timeline(escalation_id)
        return self.append(escalation_id, (rows[-1].seq if rows else 0) + 1, occurred_at, event, actor, detail)

    def timeline(self, escalation_id: str) -> list[AuditRecord]:
        with Session(self._engine) as session:
            return list(
                session.exec(
                    select(AuditRecord).where(AuditRecord.escalation_id == escalation_id).order_by(col(AuditRecord.seq))
                ).all()
            )

    def since(self, escalation_ids: list[str], after: datetime) -> list[AuditRecord]:
        """The steps of these escalations at or after `after`, oldest first (what changed since a meeting)."""
        if not escalation_ids:
            return []
        with Session(self._engine) as session:
            return list(
                session.exec(
                    select(AuditRecord)
                    .where(col(AuditRecord.escalation_id).in_(escalation_ids), AuditRecord.occurred_at >= _utc(after))
                    .order_by(col(AuditRecord.occurred_at), col(AuditRecord.seq))
                ).all()
            )

    def verify(self, escalation_id: str) -> ChainCheck:
        rows = self.timeline(escalation_id)
        prev = GENESIS
        for row in rows:
            if row.prev_hash != prev:
                return ChainCheck(False, len(rows), f"step {row.seq}: link to the previous row is broken")
            expected = _digest(prev, row.escalation_id, row.seq, row.occurred_at, row.event, row.actor, row.detail)
            if expected != row.hash:
                return ChainCheck(False, len(rows), f"step {row.seq}: content does not match its hash")
            prev = row.hash
        return ChainCheck(True, len(rows))

    @staticmethod
    def _row(session: Session, escalation_id: str, seq: int) -> AuditRecord | None:
        return session.exec(
            select(AuditRecord).where(AuditRecord.escalation_id == escalation_id, AuditRecord.seq == seq)
        ).first()
