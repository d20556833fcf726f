"""Local accounts for the console: officers, ops staff and admins, with Argon2id-hashed passwords (pwdlib)."""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import UTC, datetime

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.base import ensure_bytes, ensure_str
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from domain.accounts import ROLES, NewAccount
from domain.validation import describe

__all__ = ["ROLES", "UserAccount", "Users"]


class UserAccount(SQLModel, table=True):
    __tablename__ = "user_account"

    email: str = Field(primary_key=True, max_length=320)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=300)
    disabled: bool = False
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class LegacyScryptHasher:
    """Verifies the scrypt hashes this engine wrote before Argon2id, so those accounts can sign in
    once more; pwdlib then re-hashes the password with Argon2id. It never writes a new scrypt hash."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        return ensure_str(hash).startswith("scrypt$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raise NotImplementedError("new passwords are hashed with Argon2id")

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        try:
            _, n, r, p, salt, digest = ensure_str(hash).split("$")
            candidate = hashlib.scrypt(
                ensure_bytes(password), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024
            )
        except ValueError:
            return False
        return hmac.compare_digest(candidate.hex(), digest)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


PASSWORDS = PasswordHash((Argon2Hasher(), LegacyScryptHasher()))
"""Argon2id for every new hash (pwdlib's defaults); older scrypt hashes verified and upgraded."""


@functools.cache
def _dummy_hash() -> str:
    """Made on first need, not at import: a command that never checks a password should not pay for it."""
    return PASSWORDS.hash("a password nobody has: spends the time a real check would")


class Users:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, email: str, role: str, password: str) -> None:
        """Create or reset an account; a `ValueError` names the field at fault (`domain.accounts` rules)."""
        try:
            wanted = NewAccount.model_validate({"email": email, "role": role, "password": password})
        except ValidationError as err:
            raise ValueError(describe(err)) from err
        email, role, password = wanted.email, wanted.role, wanted.password
        with Session(self._engine) as session:
            account = session.get(UserAccount, email.lower()) or UserAccount(
                email=email.lower(), role=role, password_hash=""
            )
            account.role, account.password_hash, account.disabled = role, PASSWORDS.hash(password), False
            session.add(account)
            session.commit()

    def authenticate(self, email: str, password: str) -> UserAccount | None:
        """The account if the password is right and it is enabled; an old hash is upgraded on success."""
        with Session(self._engine) as session:
            account = session.get(UserAccount, email.lower())
            if account is None or account.disabled:
                PASSWORDS.verify(password, _dummy_hash())  # the same time whether or not the account exists
                return None
            try:
                valid, upgraded = PASSWORDS.verify_and_update(password, account.password_hash)
            except UnknownHashError:
                return None
            if not valid:
                return None
            if upgraded is not None:
                account.password_hash = upgraded
                session.add(account)
                session.commit()
                session.refresh(account)
            return account

    def all(self) -> list[UserAccount]:
        with Session(self._engine) as session:
            return list(session.exec(select(UserAccount).order_by(col(UserAccount.email))).all())

    def set_disabled(self, email: str, disabled: bool) -> None:
        with Session(self._engine) as session:
            account = session.get(UserAccount, email.lower())
            if account is None:
                raise ValueError(f"email: no account for {email}")
            account.disabled = disabled
            session.add(account)
            session.commit()

    def get(self, email: str) -> UserAccount | None:
        with Session(self._engine) as session:
            return session.get(UserAccount, email.lower())
