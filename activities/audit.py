"""Audit activity: append one step of an escalation to the hash-chained log, once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel, Field
from temporalio import activity

from activities.uncancelled import uncancelled
from persistence.audit_log import AuditLog

log = structlog.get_logger(__name__)


class AuditEntry(BaseModel):
    escalation_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    event: str
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditActivities:
    def __init__(self, audit_log: AuditLog) -> None:
        self._log = audit_log

    @activity.defn(name="record_audit")
    def record_audit(self, entry: AuditEntry) -> str:
        """Returns the row's hash. Idempotent: a retry of the same (escalation, seq) is a no-op."""
        with uncancelled():
            row = self._log.append(
                entry.escalation_id, entry.seq, entry.occurred_at, entry.event, entry.actor, entry.detail
            )
        log.info("audit_recorded", escalation_id=entry.escalation_id, seq=entry.seq, audit_event=entry.event)
        return row.hash

    def record_audits(self, entries: list[AuditEntry]) -> None:
        """Many steps in one transaction (`AuditLog.append_many`), as idempotent as `record_audit` is for one."""
        if not entries:
            return
        with uncancelled():
            self._log.append_many(entries)
        log.info("audits_recorded", rows=len(entries), escalations=len({e.escalation_id for e in entries}))
