"""Who the engine writes to: the payer's contact ladder and the LMC's officers."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from domain.identifiers import FreeText, HeaderText, SafeEmail


class Role(StrEnum):
    """The side a person acts for; decides which actions a link or command may carry."""

    PAYER = "payer"  # an ICB or trust contact
    OFFICER = "officer"  # an LMC officer
    PRACTICE = "practice"  # a practice manager
    OBSERVER = "observer"  # told, copied, never acts (the ICB on a trust's claim)


class Contact(BaseModel):
    name: HeaderText = Field(min_length=1, max_length=200)
    title: HeaderText = Field(min_length=1, max_length=200)
    email: SafeEmail

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Organisation(BaseModel):
    """An ICB or trust with its escalation ladder: level 1 first, level 3 most senior."""

    code: str = Field(min_length=2, max_length=12, pattern=r"^[A-Za-z0-9]+$")
    name: HeaderText = Field(min_length=1, max_length=200)
    kind: str = Field(pattern=r"^(icb|trust)$")
    ladder: list[Contact] = Field(min_length=3, max_length=3)

    def contact_at(self, level: int) -> Contact:
        return self.ladder[min(max(level, 1), len(self.ladder)) - 1]

    def knows(self, email: str) -> bool:
        return email.lower() in {c.email for c in self.ladder}


class Interest(BaseModel):
    """An officer's declared interest in a party (a practice's ODS code, an ICB's or trust's code).

    A conflicted officer may view an escalation involving that party but not act on it."""

    officer: str
    party: str = Field(min_length=2, max_length=12)
    nature: FreeText = Field(default="", max_length=500)

    @field_validator("officer")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("party")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


def barring_interest(interests: Iterable[Interest], email: str, parties: Collection[str]) -> Interest | None:
    """The declared interest that bars `email` from acting on an escalation whose parties are `parties` (codes in
    upper case), if any: one rule for acting on a case and for starting one."""
    for interest in interests:
        if interest.officer == email.lower() and interest.party in parties:
            return interest
    return None


class Lmc(BaseModel):
    """The committee raising escalations: its officers act; its chair is copied at level 3."""

    name: HeaderText = Field(min_length=1, max_length=200)
    officers: list[Contact] = Field(min_length=1)
    chair: Contact
    interests: list[Interest] = Field(default_factory=list)

    def officer(self, email: str) -> Contact | None:
        return next((o for o in self.officers if o.email == email.lower()), None)
