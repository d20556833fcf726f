"""Console accounts as people ask for them: who (an email address through the IG gate), which role,
and a password long enough to resist guessing. The one place these rules live."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from domain.identifiers import SafeEmail

ADMIN = "admin"
ROLES = ("officer", "ops", ADMIN)
RoleName = Literal["officer", "ops", "admin"]


class NewAccount(BaseModel):
    email: SafeEmail
    role: RoleName
    password: str = Field(min_length=12, max_length=1024, repr=False)

    @field_validator("password")
    @classmethod
    def _not_only_spaces(cls, password: str) -> str:
        if len(password.strip()) < 12:
            raise ValueError("must have at least 12 characters that are not spaces")
        return password
