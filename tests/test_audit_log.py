"""The audit log on SQLite and PostgreSQL: append-only, idempotent, hash-chained."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from persistence.audit_log import AuditGap, AuditLog
from persistence.database import MIGRATIONS, SQLITE_BUSY_SECONDS, make_engine, migrate
from persistence.sent_mail import STALE_CLAIM, MailStatus, SentEmail, SentMailLedger


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_retried_steps_are_written_once_and_the_chain_verifies(engine: Engine) -> None:
    log = AuditLog(engine)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    first = log.append("UWC-A", 1, at, "submitted", "ceo@lmc.example", {"claimed_pence": 283700})
    again = log.append("UWC-A", 1, at, "submitted", "ceo@lmc.example", {"claimed_pence": 283700})
    assert again.id == first.id
    log.append("UWC-A", 2, at, "email_sent", "engine", {"purpose": "submitted"})
    log.append("UWC-B", 1, at, "submitted", "medsec@lmc.example", {})
    assert [r.seq for r in log.timeline("UWC-A")] == [1, 2]
    check = log.verify("UWC-A")
    assert check.ok and check.rows == 2


def test_the_log_refuses_updates_and_deletes(engine: Engine) -> None:
    log = AuditLog(engine)
    log.append("UWC-R", 1, datetime(2026, 11, 23, 9, tzinfo=UTC), "submitted", "ceo@lmc.example", {})
    for statement in (
        "UPDATE audit_record SET actor = 'forger' WHERE escalation_id = 'UWC-R'",
        "DELETE FROM audit_record WHERE escalation_id = 'UWC-R'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert log.verify("UWC-R").ok


def test_threads_writing_at_once_all_land_and_a_refused_write_gives_its_turn_back(engine: Engine) -> None:
    """On SQLite a process's transactions take turns (`persistence.database`): one that fails must not keep its turn,
    and dozens of threads at once (a worker's activities) must each get theirs."""
    log = AuditLog(engine)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    run = uuid.uuid4().hex[:8]
    log.append(f"UWC-{run}", 1, at, "submitted", "ceo@lmc.example", {})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(f"DELETE FROM audit_record WHERE escalation_id = 'UWC-{run}'"))

    def chain(n: int) -> None:
        for seq in range(1, 5):
            log.append(f"UWC-{run}-{n}", seq, at, "step", "engine", {"n": n})

    began = time.monotonic()
    with engine.connect() as outer:  # a transaction inside one its thread holds goes ahead rather than waiting
        outer.execute(text("SELECT 1"))
        log.append(f"UWC-{run}", 2, at, "nested", "engine", {})
    assert time.monotonic() - began < SQLITE_BUSY_SECONDS / 3, "the inner transaction waited for its own thread's turn"
    assert log.verify(f"UWC-{run}").rows == 2

    with ThreadPoolExecutor(max_workers=24) as pool:
        list(pool.map(chain, range(48)))
    checks = [log.verify(f"UWC-{run}-{n}") for n in range(48)]
    assert all(check.ok and check.rows == 4 for check in checks)


def test_tampering_by_someone_who_can_drop_the_guard_breaks_the_chain(engine: Engine) -> None:
    log = AuditLog(engine)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    for seq, event in enumerate(["submitted", "email_sent", "response:accept"], start=1):
        log.append("UWC-T", seq, at, event, "x@icb.example", {"n": seq})
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_record_no_update"))
            conn.execute(text("DROP TRIGGER audit_record_no_delete"))
        conn.execute(text("UPDATE audit_record SET actor = 'forger' WHERE escalation_id = 'UWC-T' AND seq = 2"))
    check = log.verify("UWC-T")
    assert not check.ok and check.problem is not None and "step 2" in check.problem
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_record WHERE escalation_id = 'UWC-T' AND seq = 2"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_record ENABLE TRIGGER USER"))
    check = log.verify("UWC-T")
    assert not check.ok and "step 3" in (check.problem or "")


def test_migrations_take_an_empty_database_to_head(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == newest_revision()
    assert {
        "audit_record",
        "sent_email",
        "practice_return",
        "user_account",
        "console_session",
        "security_event",
    } <= set(inspect(engine).get_table_names())


def newest_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from persistence.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_emails_recorded_before_delivery_status_existed_count_as_sent(engine: Engine) -> None:
    """0004 adds each email's delivery status; rows from before were written only once accepted."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
        connection.execute(
            text(
                "INSERT INTO sent_email (message_id, escalation_id, purpose, recipient, subject, sent_at)"
                " VALUES ('<UWC-OLD.1@x>', 'UWC-OLD', 'submitted', 'a@b.example', 's', CURRENT_TIMESTAMP)"
            )
        )
    migrate(engine, str(engine.url))
    row = SentMailLedger(engine).get("<UWC-OLD.1@x>")
    assert row is not None and row.status == MailStatus.SENT and not SentMailLedger(engine).held()


def test_a_send_whose_process_died_unnoticed_is_held_once_its_claim_is_stale(engine: Engine) -> None:
    ledger = SentMailLedger(engine)
    message_id = f"<UWC-STALE.{uuid.uuid4().hex[:6]}@x>"

    def claim() -> bool:
        return ledger.begin_sending(
            SentEmail(
                message_id=message_id, escalation_id="UWC-STALE", purpose="p", recipient="a@b.example", subject="s"
            )
        )

    assert claim() and not claim()  # one claim per message
    now = datetime.now(UTC)
    assert ledger.hold_stale_claims(now + STALE_CLAIM - timedelta(minutes=1)) == 0  # it may still be sending
    assert ledger.get(message_id).status == MailStatus.SENDING  # type: ignore[union-attr]
    assert ledger.hold_stale_claims(now + STALE_CLAIM + timedelta(minutes=1)) == 1
    assert message_id in [h.message_id for h in ledger.held()]
    assert ledger.take_held(message_id) is not None and ledger.take_held(message_id) is None  # one owner


@dataclass
class Step:
    escalation_id: str
    seq: int
    occurred_at: datetime
    event: str
    actor: str
    detail: dict[str, object]


def steps_of(escalations: int, per: int) -> list[Step]:
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    return [
        Step(f"E{e}", seq, at + timedelta(minutes=seq), f"step-{seq}", "engine", {"n": seq, "when": at})
        for seq in range(1, per + 1)
        for e in range(escalations)
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 5)),
    cuts=st.lists(st.integers(0, 15), max_size=4),
    repeats=st.lists(st.integers(0, 15), max_size=3),
    one_by_one=st.sets(st.integers(0, 5)),
)
def test_steps_written_in_batches_chain_as_written_one_by_one(
    engine: Engine,
    shape: tuple[int, int],
    cuts: list[int],
    repeats: list[int],
    one_by_one: set[int],
) -> None:
    """However a run's steps are split into batches (`append_many`, a cohort's openings) or single writes, and
    whichever are written again (a retry), each escalation's chain is the one its steps written one by one make."""
    prefix = uuid.uuid4().hex[:8]
    steps = [replace(s, escalation_id=f"{prefix}-{s.escalation_id}") for s in steps_of(*shape)]
    bounds = sorted({0, len(steps), *(c for c in cuts if c < len(steps))})
    batches = [steps[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    for again in repeats:  # a retry writes an earlier batch again, after the batches that followed it
        if again < len(batches):
            batches.append(batches[again])
    log = AuditLog(engine)
    for index, batch in enumerate(batches):
        if index in one_by_one:
            for s in batch:
                log.append(s.escalation_id, s.seq, s.occurred_at, s.event, s.actor, s.detail)
        else:
            log.append_many(batch)
    expected = AuditLog(engine)
    for s in steps:
        expected.append(f"x{s.escalation_id}", s.seq, s.occurred_at, s.event, s.actor, s.detail)
    for e in range(shape[0]):
        written = log.timeline(f"{prefix}-E{e}")
        assert [r.seq for r in written] == list(range(1, shape[1] + 1))
        assert log.verify(f"{prefix}-E{e}").ok
        assert [r.event for r in written] == [r.event for r in expected.timeline(f"x{prefix}-E{e}")]


def test_a_step_waits_for_the_step_before_it_so_two_writers_never_break_a_chain(engine: Engine) -> None:
    """A cohort writes a practice's opening rows while the practice, already running, may write its next: a step
    whose step before is not there yet is refused (its activity retries), never chained past the gap."""
    log = AuditLog(engine)
    at = datetime(2026, 11, 27, 9, tzinfo=UTC)
    escalation_id = f"PEC-GAP-{uuid.uuid4().hex[:6]}"
    log.append(escalation_id, 1, at, "return_requested", "engine", {})
    with pytest.raises(AuditGap, match="step 3 waits for step 2"):
        log.append(escalation_id, 3, at, "response:submit_return", "pm@practice.example", {})
    log.append_many([Step(escalation_id, 2, at, "email_sent", "engine", {})])  # the cohort's row lands
    log.append(escalation_id, 3, at, "response:submit_return", "pm@practice.example", {})  # the retry goes in
    assert [r.seq for r in log.timeline(escalation_id)] == [1, 2, 3] and log.verify(escalation_id).ok
    with pytest.raises(AuditGap):
        log.append_many([Step(escalation_id, 5, at, "closed", "engine", {})])
