"""Local accounts for the console: officers, ops staff and admins, with scrypt-hashed passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from domain.accounts import ROLES, NewAccount
from domain.validation import describe

__all__ = ["ROLES", "UserAccount", "Users"]
_N, _R, _P = 2**15, 8, 1  # scrypt cost: about 32 MB and tens of milliseconds per check


class UserAccount(SQLModel, table=True):
    __tablename__ = "user_account"

    email: str = Field(primary_key=True, max_length=320)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=300)
    disabled: bool = False
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 1024 * 1024)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


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
            account.role, account.password_hash, account.disabled = role, hash_password(password), False
            session.add(account)
            session.commit()

    def authenticate(self, email: str, password: str) -> UserAccount | None:
        with Session(self._engine) as session:
            account = session.get(UserAccount, email.lower())
        if account is None or account.disabled:
            hash_password(password)  # spend the same time whether or not the account exists
            return None
        return account if password_matches(password, account.password_hash) else None

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
