"""Console accounts as people ask for them: who (an email address through the IG gate), which role,
and a password long enough to resist guessing. The one place these rules live."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.identifiers import SafeEmail

ADMIN = "admin"
ROLES = ("officer", "ops", ADMIN)
RoleName = Literal["officer", "ops", "admin"]


class NewAccount(BaseModel):
    email: SafeEmail
    role: RoleName
    password: str = Field(min_length=12, max_length=1024, repr=False)
