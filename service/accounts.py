"""Who may use the console: sign-in (throttled per account and per address), sessions kept on the
server (idle and absolute lifetimes), sign-out, and account changes that take effect on the very next
request. Every such event goes to the security log, never to an escalation's audit chain.

The clock is injected, so tests can move time; the state (sessions, counters, the log) is in the
database, so every replica of the web app agrees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine

from domain.accounts import ADMIN, NewAccount
from domain.contacts import Lmc
from domain.formatting import counted
from persistence.rate_limits import DatabaseStorage
from persistence.security_log import SecurityLog
from persistence.sessions import Sessions
from persistence.users import Users
from service.gate import admit, refuse_field
from service.refusals import Refused, Why

ACCOUNT_FAILURES = parse("5 per 15 minutes")
"""Wrong passwords for one account before it is locked."""
ADDRESS_FAILURES = parse("20 per 15 minutes")
"""Wrong passwords from one client address, whichever accounts they try."""
LOCK = parse("1 per 15 minutes")
"""How long a locked account stays locked: the right password is refused until then."""


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=8)


@dataclass(frozen=True)
class Who:
    """The person behind a live session, with the role their account has now (not at sign-in)."""

    email: str
    role: str
    csrf: str


@dataclass(frozen=True)
class SignedIn:
    token: str
    who: Who


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Accounts:
    def __init__(
        self, engine: Engine, policy: SessionPolicy | None = None, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.users = Users(engine)
        self.sessions = Sessions(engine)
        self.log = SecurityLog(engine)
        self.policy = policy or SessionPolicy()
        self._clock = clock
        self._limiter = FixedWindowRateLimiter(DatabaseStorage(engine, clock=lambda: clock().timestamp()))

    # --- signing in and out -------------------------------------------------------------
    def sign_in(self, email: str, password: str, client: str | None) -> SignedIn:
        """A new session, or `Refused` saying why (and, when locked, until when)."""
        now = self._clock()
        email = email.strip().lower()
        locked = self._locked_until(email, client)
        if locked is not None:
            self.log.record("sign_in_refused_locked", now, email=email, client=client)
            raise Refused(Why.NOT_PERMITTED, f"Too many failed attempts. Try again after {locked:%H:%M} (UTC).")
        account = self.users.authenticate(email, password)
        if account is None:
            self.log.record("sign_in_failed", now, email=email, client=client)
            locked = self._failed(email, client)
            if locked is not None:
                self.log.record("account_locked", now, email=email, client=client, until=locked.isoformat())
                raise Refused(Why.NOT_PERMITTED, f"Too many failed attempts. Try again after {locked:%H:%M} (UTC).")
            raise Refused(Why.NOT_SIGNED_IN, "Email or password not recognised.")
        self._limiter.clear(ACCOUNT_FAILURES, "account", email)
        token, csrf = self.sessions.begin(account.email, client, now)
        self.log.record("signed_in", now, email=account.email, client=client)
        return SignedIn(token=token, who=Who(email=account.email, role=account.role, csrf=csrf))

    def current(self, token: str) -> Who | None:
        """The person behind a cookie, checked against their account on every request: a disabled
        account or a changed role takes effect at once."""
        live = self.sessions.live(token, self._clock(), self.policy.idle, self.policy.lifetime)
        if live is None:
            return None
        account = self.users.get(live.email)
        if account is None or account.disabled:
            self.sessions.end(token, self._clock(), "account_disabled")
            return None
        return Who(email=account.email, role=account.role, csrf=live.csrf)

    def sign_out(self, token: str, client: str | None) -> None:
        now = self._clock()
        email = self.sessions.end(token, now, "signed_out")
        if email is not None:
            self.log.record("signed_out", now, email=email, client=client)

    # --- administration -----------------------------------------------------------------
    def save_account(
        self, by: str, email: str, role: str, password: str, client: str | None = None, lmc: Lmc | None = None
    ) -> str:
        """Create an account, or reset its password and role; an existing account's sessions end. Given the `lmc`
        configured, an officer account it does not name as an officer is saved with a note saying what they
        cannot do until it does (its officers, not accounts, are who may start and act on escalations)."""
        saved = self._save(by, email, role, password, client)
        wanted = email.strip().lower()
        if role == "officer" and lmc is not None and lmc.officer(wanted) is None:
            saved += (
                f" Note: {wanted} is not one of {lmc.name}'s officers in the engine's configuration "
                "(config/escalations.toml, [[lmc.officers]]), so they can sign in and read escalations, but "
                "starting one or acting on one is refused until they are added there."
            )
        return saved

    def _save(self, by: str, email: str, role: str, password: str, client: str | None) -> str:
        wanted = admit(NewAccount, {"email": email, "role": role, "password": password})
        now = self._clock()
        existing = self.users.get(wanted.email)
        if existing is not None and wanted.role != ADMIN:
            self._keep_an_admin(wanted.email, "role", f"make it {wanted.role}")
        self.users.add(wanted.email, wanted.role, wanted.password)
        if existing is None:
            self.log.record("user_created", now, email=wanted.email, by=by, client=client, role=wanted.role)
            return f"{wanted.email} can sign in as {wanted.role}."
        ended = self.sessions.end_all_for(wanted.email, now, "account_changed")
        if existing.role != wanted.role:
            self.log.record("role_changed", now, email=wanted.email, by=by, client=client, role=wanted.role)
        self.log.record("password_reset", now, email=wanted.email, by=by, client=client, sessions_ended=ended)
        return f"{wanted.email} can sign in as {wanted.role} with the new password; their sessions were ended."

    def disable(self, by: str, email: str, client: str | None = None) -> str:
        self._keep_an_admin(email.lower(), "email", "disable it")
        now = self._clock()
        try:
            self.users.set_disabled(email, True)
        except ValueError as err:
            raise Refused(Why.NOT_FOUND, str(err)) from err
        ended = self.sessions.end_all_for(email, now, "account_disabled")
        self.log.record("user_disabled", now, email=email.lower(), by=by, client=client, sessions_ended=ended)
        return f"{email} can no longer sign in; {counted(ended, 'session')} ended."

    def _keep_an_admin(self, email: str, field: str, change: str) -> None:
        """Refuse a change that would leave no one able to manage accounts (the only admin demoting or disabling
        themselves had left the console with none, mendable only from the command line)."""
        admins = {u.email for u in self.users.all() if u.role == ADMIN and not u.disabled}
        if admins == {email}:
            raise refuse_field(field, f"{email} is the only admin: make another account admin first, then {change}")

    # --- the throttle -------------------------------------------------------------------
    def _reset_of(self, item: RateLimitItem, *ids: str) -> datetime:
        stats = self._limiter.get_window_stats(item, *ids)
        return datetime.fromtimestamp(stats.reset_time, tz=UTC)

    def _locked_until(self, email: str, client: str | None) -> datetime | None:
        if not self._limiter.test(LOCK, "lock", email):
            return self._reset_of(LOCK, "lock", email)
        if client and not self._limiter.test(ADDRESS_FAILURES, "address", client):
            return self._reset_of(ADDRESS_FAILURES, "address", client)
        return None

    def _failed(self, email: str, client: str | None) -> datetime | None:
        """Count a failure; the time the account or address is locked until, if it now is."""
        if client:
            self._limiter.hit(ADDRESS_FAILURES, "address", client)
        if not self._limiter.hit(ACCOUNT_FAILURES, "account", email):  # the sixth in the window
            self._limiter.hit(LOCK, "lock", email)
            self._limiter.clear(ACCOUNT_FAILURES, "account", email)
            return self._reset_of(LOCK, "lock", email)
        return None
