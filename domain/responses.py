"""What a person sends back: one model for every response, from a link page or a command."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, model_validator

from domain.contacts import Role
from domain.identifiers import FreeText, SafeEmail
from domain.money import Pence


@dataclass(frozen=True)
class FieldSpec:
    """One input of an action's form: `kind` is money, text, date, count or groups."""

    name: str
    label: str
    kind: str
    required: bool = False


MOST_COUNT = 100_000
"""The most patients, or items of one kind of work, a practice's return may count: more than the largest practice's
list in England, so a count past it is a slip (a figure typed twice), refused rather than priced."""


class DeregisteredGroup(BaseModel):
    """Patients deregistered because of an incident who were off the list for the same days."""

    patients: StrictInt = Field(ge=1, le=MOST_COUNT)
    days_off: StrictInt | None = Field(default=None, ge=1, le=3660)
    still_off: bool = False
    off_since: date | None = None  # for a group still off: counted from here to the configured date

    @model_validator(mode="after")
    def _days_or_still_off(self) -> DeregisteredGroup:
        if self.still_off and self.days_off is not None:
            raise ValueError("give the days off the list, or tick 'still off', not both")
        if not self.still_off and self.days_off is None:
            raise ValueError("give the days off the list, or tick 'still off'")
        if self.still_off and self.off_since is None:
            raise ValueError("off_since: give the date a group still off the list was deregistered")
        return self


MOST_GROUPS = 50
"""The most groups one deregistration return may give, however it is sent (its page offers as many rows)."""


class ResponseInput(BaseModel):
    """A response to an escalation. Which fields an action needs is the case's rule."""

    action: str = Field(min_length=1, max_length=40)
    actor_email: SafeEmail
    actor_role: Role
    amount_pence: Pence | None = None
    reasons: FreeText | None = Field(default=None, max_length=4000)
    text: FreeText | None = Field(default=None, max_length=4000)
    on_date: date | None = None
    counts: dict[str, Annotated[StrictInt, Field(ge=0, le=1_000_000)]] | None = None
    groups: list[DeregisteredGroup] | None = Field(default=None, max_length=MOST_GROUPS)


class ResponseOutcome(BaseModel):
    """What the page or command tells the person at once."""

    status: str
    message: str
    response_digest: str | None = None
    """What the recorded response said (`digest_of`): a console form sent again under its submission id with other
    values (changed after Back) is answered with the first outcome, and this tells the console so."""


def digest(said: str) -> str:
    """A short digest of what something says: the same sent again has the same digest, an edited one not."""
    return hashlib.sha256(said.encode()).hexdigest()[:32]


def digest_of(response: ResponseInput) -> str:
    return digest(response.model_dump_json())
