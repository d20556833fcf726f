"""A practice's opening steps run as one local activity (`carry_out_steps`, issue #16). A local activity is
run again whenever its workflow task is (a worker that crashed, a retry after a failure), so the run as a
whole must be idempotent: no audit row written twice, no email sent twice, and a retry after a failure
part-way carries on from the first step not done. Against a real mail server and the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiosmtplib import SMTPDataError
from temporalio.testing import ActivityEnvironment

from activities.audit import AuditActivities, AuditEntry
from activities.email import EmailActivities
from activities.returns import ReturnActivities
from activities.steps import EmailStep, StepActivities, StepRun
from domain.practice_return import ReturnEffect, ReturnRecord
from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.practice_returns import PracticeReturns
from persistence.sent_mail import SentMailLedger
from settings import Settings
from tests.conftest import mail_server
from tests.test_unsendable_email import Picky, request

AT = datetime(2026, 11, 23, 9, tzinfo=UTC)


def opening(escalation_id: str) -> StepRun:
    """What a practice's opening carries out: opened, the return request, and its `email_sent` row."""
    email = request().model_copy(update={"escalation_id": escalation_id})
    return StepRun(
        steps=[
            AuditEntry(escalation_id=escalation_id, seq=1, occurred_at=AT, event="opened", actor="engine"),
            EmailStep(request=email, audit_seq=2),
            AuditEntry(escalation_id=escalation_id, seq=3, occurred_at=AT, event="deadline_set", actor="engine"),
        ]
    )


def steps_for(settings: Settings) -> StepActivities:
    engine = make_engine(settings.database)
    email = EmailActivities(settings, SentMailLedger(engine))
    return StepActivities(AuditActivities(AuditLog(engine)), email, ReturnActivities(PracticeReturns(engine)))


async def test_the_same_run_twice_writes_each_row_and_sends_each_email_once(settings: Settings) -> None:
    escalation_id = f"PEC-2026-{uuid.uuid4().hex[:6].upper()}-P{uuid.uuid4().hex[:4].upper()}"
    run = opening(escalation_id)
    picky = Picky()
    with mail_server(picky, settings) as local:
        first = await ActivityEnvironment().run(steps_for(local).carry_out_steps, run)
        again = await ActivityEnvironment().run(steps_for(local).carry_out_steps, run)
    assert [s.message_id for s in first] == [s.message_id for s in again]
    assert not first[0].already_sent and again[0].already_sent
    assert len(picky.with_id(first[0].message_id)) == 1 and len(picky.taken) == 1
    rows = AuditLog(make_engine(settings.database)).timeline(escalation_id)
    assert [(r.seq, r.event) for r in rows] == [(1, "opened"), (2, "email_sent"), (3, "deadline_set")]
    assert rows[1].detail["message_id"] == first[0].message_id and rows[1].detail["purpose"] == "submitted"


async def test_a_retry_after_the_mail_server_failed_part_way_carries_on_from_the_email(settings: Settings) -> None:
    escalation_id = f"PEC-2026-{uuid.uuid4().hex[:6].upper()}-P{uuid.uuid4().hex[:4].upper()}"
    run = opening(escalation_id)
    busy = Picky(data_reply="451 4.3.0 Try again later")
    with mail_server(busy, settings) as local, pytest.raises(SMTPDataError):
        await ActivityEnvironment().run(steps_for(local).carry_out_steps, run)
    log = AuditLog(make_engine(settings.database))
    assert [r.event for r in log.timeline(escalation_id)] == ["opened"]  # written, and not written again below
    working = Picky()
    with mail_server(working, settings) as local:
        [sent] = await ActivityEnvironment().run(steps_for(local).carry_out_steps, run)
    assert not sent.held and len(working.with_id(sent.message_id)) == 1 and not busy.taken
    assert [(r.seq, r.event) for r in log.timeline(escalation_id)] == [
        (1, "opened"),
        (2, "email_sent"),
        (3, "deadline_set"),
    ]
    assert log.verify(escalation_id).ok


async def test_what_follows_an_answer_in_one_run_stores_the_return_once_however_often_it_runs(
    settings: Settings,
) -> None:
    """After a practice's answer, its audit row and its return go as one run (an ordinary activity, retried
    whole after a failure): the return is stored once, as its latest, and the row written once."""
    incident = f"PEC-2026-{uuid.uuid4().hex[:6].upper()}"
    escalation_id = f"{incident}-P{uuid.uuid4().hex[:4].upper()}"
    record = ReturnRecord(ods="E87001", counts={"patients_reviewed": 4})
    run = StepRun(
        steps=[
            AuditEntry(escalation_id=escalation_id, seq=1, occurred_at=AT, event="response:submit_return", actor="pm"),
            ReturnEffect(parent_id=incident, record=record),
        ]
    )
    for _ in range(2):
        assert await ActivityEnvironment().run(steps_for(settings).carry_out_steps, run) == []
    assert PracticeReturns(make_engine(settings.database)).for_incident(incident) == [record.model_dump(mode="json")]
    assert [r.event for r in AuditLog(make_engine(settings.database)).timeline(escalation_id)] == [
        "response:submit_return"
    ]
