"""A practice's steps run as one local activity (`carry_out_steps`, issue #16), and its cohort carries out a batch
of practices' openings as one local activity (`carry_out_openings`). Either is run again after a worker that crashed or
a failure, so the run as a whole must be idempotent: no audit row written twice, no email sent twice, and a retry
after a failure part-way carries on from the first step not done. Against a real mail server and the real
database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiosmtplib import SMTPDataError
from temporalio.testing import ActivityEnvironment

from activities.audit import AuditActivities, AuditEntry
from activities.email import EmailActivities
from activities.returns import ReturnActivities
from activities.steps import EmailStep, OpeningRuns, StepActivities, StepRun
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


def practice_opening(escalation_id: str) -> StepRun:
    """A practice's opening as its cohort carries it out: the request's audit row, the request, its `email_sent`."""
    email = request().model_copy(update={"escalation_id": escalation_id})
    email = email.model_copy(
        update={"effect": email.effect.model_copy(update={"subject": f"[{escalation_id}] Return"})}
    )
    return StepRun(
        steps=[
            AuditEntry(escalation_id=escalation_id, seq=1, occurred_at=AT, event="return_requested", actor="engine"),
            EmailStep(request=email, audit_seq=2),
        ]
    )


async def test_a_cohorts_openings_run_twice_write_each_row_and_send_each_email_once(settings: Settings) -> None:
    """A cohort opens its practices a batch at a time (`carry_out_openings`, a local activity run again whenever
    its workflow task is): each practice's rows once and chained, its request sent once, however often it runs."""
    incident = f"PEC-2026-{uuid.uuid4().hex[:6].upper()}"
    ids = [f"{incident}-E8700{n}" for n in range(3)]
    openings = OpeningRuns(runs=[practice_opening(i) for i in ids])
    picky = Picky()
    with mail_server(picky, settings) as local:
        first = await ActivityEnvironment().run(steps_for(local).carry_out_openings, openings)
        again = await ActivityEnvironment().run(steps_for(local).carry_out_openings, openings)
    assert [[s.message_id for s in o.sent] for o in first] == [[s.message_id for s in o.sent] for o in again]
    assert all(not o.sent[0].already_sent and not o.unsent for o in first) and all(
        o.sent[0].already_sent for o in again
    )
    assert len(picky.taken) == 3 and all(len(picky.with_id(o.sent[0].message_id)) == 1 for o in first)
    log = AuditLog(make_engine(settings.database))
    for escalation_id, done in zip(ids, first, strict=True):
        rows = log.timeline(escalation_id)
        assert [(r.seq, r.event) for r in rows] == [(1, "return_requested"), (2, "email_sent")]
        assert rows[1].detail["message_id"] == done.sent[0].message_id and log.verify(escalation_id).ok


async def test_openings_the_mail_server_refuses_for_now_are_handed_back_to_send_as_planned(settings: Settings) -> None:
    """The mail server refuses for now: the batch does not fail (one practice's mail must not hold up the rest);
    each email not sent comes back, numbered as planned, for its practice to send itself (`carry_out_steps`,
    retried as long as it takes). Sent so, each goes once, and every practice's rows come out whole and in order."""
    incident = f"PEC-2026-{uuid.uuid4().hex[:6].upper()}"
    ids = [f"{incident}-E8710{n}" for n in range(3)]
    openings = OpeningRuns(runs=[practice_opening(i) for i in ids])
    busy = Picky(data_reply="451 4.3.0 Try again later")
    with mail_server(busy, settings) as local:
        opened = await ActivityEnvironment().run(steps_for(local).carry_out_openings, openings)
    assert len(busy.taken) == 0 and all(not o.sent and len(o.unsent) == 1 for o in opened)
    log = AuditLog(make_engine(settings.database))
    assert [[r.event for r in log.timeline(i)] for i in ids] == [["return_requested"]] * 3  # before any email
    ledger = SentMailLedger(make_engine(settings.database))
    assert [w.escalation_id for w in ledger.waiting() if w.escalation_id in ids] == ids[:1]  # the banner says so
    working = Picky()
    with mail_server(working, settings) as local:
        for done in opened:
            [sent] = await ActivityEnvironment().run(steps_for(local).carry_out_steps, StepRun(steps=done.unsent))
            assert not sent.held
    assert len(working.taken) == 3
    assert not [w for w in ledger.waiting() if w.escalation_id in ids]  # sent on the practice's first attempt: clear
    for escalation_id in ids:
        assert [(r.seq, r.event) for r in log.timeline(escalation_id)] == [(1, "return_requested"), (2, "email_sent")]
        assert log.verify(escalation_id).ok
