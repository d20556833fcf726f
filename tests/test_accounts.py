"""Accounts and sessions on the server, on SQLite and PostgreSQL, with a clock the test moves:
sign-out, disabling and role changes take effect on the next request; idle and absolute lifetimes;
the sixth wrong password locks the account; old password hashes are upgraded; every event logged."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from persistence.database import make_engine
from persistence.users import UserAccount
from service.accounts import Accounts, SessionPolicy
from service.refusals import Refused, Why

PASSWORD = "a long enough password"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield make_engine(f"sqlite:///{tmp_path}/accounts.db")
    else:
        yield make_engine(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(engine: Engine, clock: Clock) -> Accounts:
    found = Accounts(engine, SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=8)), clock)
    found.save_account("admin@lmc.example", f"ops-{secrets.token_hex(3)}@lmc.example", "ops", PASSWORD)
    return found


def an_ops_account(accounts: Accounts) -> str:
    email = f"ops-{secrets.token_hex(4)}@lmc.example"
    accounts.save_account("admin@lmc.example", email, "ops", PASSWORD)
    return email


def events(accounts: Accounts, email: str) -> list[str]:
    return [e.event for e in reversed(accounts.log.recent(email=email))]


def test_sign_out_ends_the_session_and_a_new_sign_in_gets_a_new_id(accounts: Accounts) -> None:
    email = an_ops_account(accounts)
    first = accounts.sign_in(email, PASSWORD, "10.0.0.1")
    second = accounts.sign_in(email, PASSWORD, "10.0.0.1")
    assert first.token != second.token and first.who.csrf != second.who.csrf
    assert accounts.current(first.token) == first.who
    accounts.sign_out(first.token, "10.0.0.1")
    assert accounts.current(first.token) is None, "a copied cookie is worthless after sign-out"
    assert accounts.current(second.token) is not None, "other sessions are untouched"
    assert events(accounts, email) == ["user_created", "signed_in", "signed_in", "signed_out"]


def test_disabling_or_changing_a_role_takes_effect_on_the_next_request(accounts: Accounts) -> None:
    email = an_ops_account(accounts)
    session = accounts.sign_in(email, PASSWORD, None)
    with Session(accounts.users._engine) as db:  # the role changed by another admin, in another replica
        account = db.get(UserAccount, email)
        assert account is not None
        account.role = "officer"
        db.add(account)
        db.commit()
    who = accounts.current(session.token)
    assert who is not None and who.role == "officer"
    accounts.disable("admin@lmc.example", email)
    assert accounts.current(session.token) is None
    with pytest.raises(Refused):
        accounts.sign_in(email, PASSWORD, None)
    assert "user_disabled" in events(accounts, email)


def test_a_password_reset_by_an_admin_ends_the_accounts_sessions(accounts: Accounts) -> None:
    email = an_ops_account(accounts)
    session = accounts.sign_in(email, PASSWORD, None)
    accounts.save_account("admin@lmc.example", email, "officer", "another long password")
    assert accounts.current(session.token) is None
    assert events(accounts, email)[-2:] == ["role_changed", "password_reset"]


def test_idle_and_absolute_lifetimes_end_a_session(accounts: Accounts, clock: Clock) -> None:
    email = an_ops_account(accounts)
    idle = accounts.sign_in(email, PASSWORD, None)
    clock.advance(minutes=29)
    assert accounts.current(idle.token) is not None
    clock.advance(minutes=29)  # used 29 minutes ago: still alive
    assert accounts.current(idle.token) is not None
    clock.advance(minutes=31)
    assert accounts.current(idle.token) is None, "idle for 31 minutes"

    busy = accounts.sign_in(email, PASSWORD, None)
    for _ in range(16):  # in use every 29 minutes, for 7 hours 44 minutes
        clock.advance(minutes=29)
        assert accounts.current(busy.token) is not None
    clock.advance(minutes=29)  # 8 hours 13 minutes after signing in
    assert accounts.current(busy.token) is None, "8 hours is the most a session lives"


def test_the_sixth_wrong_password_locks_the_account_and_the_right_one_waits_for_the_lock(
    accounts: Accounts, clock: Clock
) -> None:
    email = an_ops_account(accounts)
    for _ in range(5):
        with pytest.raises(Refused) as refused:
            accounts.sign_in(email, "wrong password, again", "10.0.0.2")
        assert refused.value.why is Why.NOT_SIGNED_IN
    with pytest.raises(Refused, match=r"Too many failed attempts. Try again after 09:15"):
        accounts.sign_in(email, "wrong password, again", "10.0.0.2")
    clock.advance(minutes=10)
    with pytest.raises(Refused, match="Try again after 09:15"):
        accounts.sign_in(email, PASSWORD, "10.0.0.3")  # the right password, from elsewhere: still locked
    clock.advance(minutes=6)
    assert accounts.sign_in(email, PASSWORD, "10.0.0.3").who.email == email
    logged = events(accounts, email)
    assert logged.count("sign_in_failed") == 6 and "account_locked" in logged
    assert "sign_in_refused_locked" in logged and logged[-1] == "signed_in"


def test_failures_from_one_address_are_limited_across_accounts(accounts: Accounts) -> None:
    for _ in range(20):
        with pytest.raises(Refused):
            accounts.sign_in(f"guess-{secrets.token_hex(3)}@lmc.example", "wrong password, again", "10.9.9.9")
    email = an_ops_account(accounts)
    with pytest.raises(Refused, match="Too many failed attempts"):
        accounts.sign_in(email, PASSWORD, "10.9.9.9")
    assert accounts.sign_in(email, PASSWORD, "10.9.9.10").who.email == email


def test_an_old_scrypt_hash_is_upgraded_to_argon2id_on_the_next_sign_in(accounts: Accounts) -> None:
    email = f"old-{secrets.token_hex(4)}@lmc.example"
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, maxmem=64 * 1024 * 1024)
    with Session(accounts.users._engine) as db:
        db.add(
            UserAccount(email=email, role="officer", password_hash=f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}")
        )
        db.commit()
    assert accounts.sign_in(email, PASSWORD, None).who.role == "officer"
    account = accounts.users.get(email)
    assert account is not None and account.password_hash.startswith("$argon2id$")
    assert accounts.sign_in(email, PASSWORD, None).who.email == email


def test_the_security_log_is_append_only(accounts: Accounts) -> None:
    email = an_ops_account(accounts)
    with pytest.raises(DBAPIError), accounts.users._engine.begin() as db:
        db.execute(text("UPDATE security_event SET event = 'nothing' WHERE email = :e"), {"e": email})
    with pytest.raises(DBAPIError), accounts.users._engine.begin() as db:
        db.execute(text("DELETE FROM security_event WHERE email = :e"), {"e": email})
    assert events(accounts, email) == ["user_created"]


def test_the_only_admin_can_neither_demote_nor_disable_themselves(tmp_path: Path, clock: Clock) -> None:
    """A fresh database of its own: the rule is about every admin there is."""
    accounts = Accounts(
        make_engine(f"sqlite:///{tmp_path}/admins.db"),
        SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=8)),
        clock,
    )
    accounts.save_account("cli", "only.admin@lmc.example", "admin", PASSWORD)
    accounts.save_account("only.admin@lmc.example", "only.admin@lmc.example", "admin", "a new long password")
    with pytest.raises(Refused, match="is the only admin") as demoted:
        accounts.save_account("only.admin@lmc.example", "only.admin@lmc.example", "ops", PASSWORD)
    assert set(demoted.value.fields) == {"role"}
    with pytest.raises(Refused, match="is the only admin"):
        accounts.disable("only.admin@lmc.example", "only.admin@lmc.example")
    assert accounts.users.get("only.admin@lmc.example").role == "admin"  # type: ignore[union-attr]
    accounts.save_account("only.admin@lmc.example", "second.admin@lmc.example", "admin", PASSWORD)
    accounts.save_account("second.admin@lmc.example", "only.admin@lmc.example", "ops", PASSWORD)  # now one of two
    assert accounts.users.get("only.admin@lmc.example").role == "ops"  # type: ignore[union-attr]


def test_a_password_of_spaces_is_refused(accounts: Accounts) -> None:
    with pytest.raises(Refused, match="not spaces"):
        accounts.save_account("admin@lmc.example", "spaces@lmc.example", "ops", " " * 12)
    with pytest.raises(Refused, match="not spaces"):
        accounts.save_account("admin@lmc.example", "spaces@lmc.example", "ops", "  short  pw  ")


def test_an_officer_account_the_configuration_does_not_name_is_saved_with_a_note_saying_what_they_cannot_do(
    accounts: Accounts,
) -> None:
    from settings import Settings

    lmc = Settings(_env_file=None).escalation_config().lmc  # type: ignore[call-arg]
    stranger = f"new.officer.{secrets.token_hex(3)}@lmc.example"
    said = accounts.save_account("admin@lmc.example", stranger, "officer", PASSWORD, lmc=lmc)
    assert said.startswith(f"{stranger} can sign in as officer.") and "config/escalations.toml" in said
    assert "is refused until they are added there" in said
    known = lmc.officers[0].email
    assert "Note:" not in accounts.save_account("admin@lmc.example", known, "officer", PASSWORD, lmc=lmc)
    assert "Note:" not in accounts.save_account("admin@lmc.example", stranger, "ops", PASSWORD, lmc=lmc)
