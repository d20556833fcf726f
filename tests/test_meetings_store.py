"""Liaison meeting records on SQLite and PostgreSQL: commitments numbered per meeting, a form sent
twice stored once, the previous meeting found, and the records append-only (the database refuses
UPDATE and DELETE); and the audit log's steps since a date, for what changed since a meeting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from persistence.audit_log import AuditLog
from persistence.database import make_engine
from persistence.meetings import Meetings, NewOutcome

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('meetings') / 'meetings.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_commitments_are_numbered_per_meeting_and_a_form_sent_twice_is_stored_once(engine: Engine) -> None:
    meetings = Meetings(engine)
    icb = f"Q{uuid.uuid4().hex[:4].upper()}"
    first_meeting, second_meeting = date(2026, 10, 6), date(2026, 12, 1)
    commitment = NewOutcome("UWC-2026-ABCDEF", "Agreed", "Write to practices", "a@icb.example", date(2026, 12, 15))
    noted = NewOutcome(None, "Noted; the ICB will update the next meeting")
    one = meetings.record("s1-" + icb, icb, first_meeting, "ceo@lmc.example", NOW, [commitment, noted])
    assert [o.commitment_id for o in one] == [f"LIA-{icb}-2026-10-06-C1", None]
    assert meetings.record("s1-" + icb, icb, first_meeting, "ceo@lmc.example", NOW, [commitment]) == one
    two = meetings.record("s2-" + icb, icb, first_meeting, "medsec@lmc.example", NOW, [commitment])
    assert [o.commitment_id for o in two] == [f"LIA-{icb}-2026-10-06-C2"], "numbered after the meeting's earlier"
    meetings.record("s3-" + icb, icb, second_meeting, "ceo@lmc.example", NOW, [commitment])
    assert len(meetings.outcomes(icb, first_meeting)) == 3 and len(meetings.outcomes(icb)) == 4
    assert meetings.previous_meeting(icb, second_meeting) == first_meeting
    assert meetings.previous_meeting(icb, first_meeting) is None
    assert meetings.meeting_dates(icb.lower()) == [first_meeting, second_meeting]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE liaison_meeting_outcome SET outcome = 'rewritten'",
        "DELETE FROM liaison_meeting_outcome",
        "UPDATE liaison_meeting_record SET recorded_by = 'someone@else.example'",
        "DELETE FROM liaison_meeting_record",
    ],
)
def test_meeting_records_are_append_only(engine: Engine, statement: str) -> None:
    Meetings(engine).record(
        uuid.uuid4().hex, "QKS", date(2026, 10, 6), "ceo@lmc.example", NOW, [NewOutcome(None, "Noted")]
    )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))


def test_the_audit_steps_since_a_date_are_those_of_the_escalations_asked_for(engine: Engine) -> None:
    log = AuditLog(engine)
    a, b, c = (f"UWC-SINCE-{uuid.uuid4().hex[:6]}" for _ in range(3))
    log.append(a, 1, NOW - timedelta(days=60), "submitted", "ceo@lmc.example", {})
    log.append(a, 2, NOW - timedelta(days=2), "deadline_missed", "timer", {})
    log.append(b, 1, NOW - timedelta(days=1), "submitted", "ceo@lmc.example", {})
    log.append(c, 1, NOW - timedelta(days=1), "submitted", "ceo@lmc.example", {})
    found = log.since([a, b], NOW - timedelta(days=7))
    assert [(r.escalation_id, r.event) for r in found] == [(a, "deadline_missed"), (b, "submitted")]
    assert log.since([], NOW) == []
