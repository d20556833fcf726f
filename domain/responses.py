"""What a person sends back: one model for every response, from a link page or a command."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, EmailStr, Field

from domain.contacts import Role
from domain.identifiers import FreeText
from domain.money import Pence


class ResponseInput(BaseModel):
    """A response to an escalation. Which fields an action needs is the case's rule."""

    action: str = Field(min_length=1, max_length=40)
    actor_email: EmailStr
    actor_role: Role
    amount_pence: Pence | None = None
    reasons: FreeText | None = Field(default=None, max_length=4000)
    text: FreeText | None = Field(default=None, max_length=4000)
    on_date: date | None = None


class ResponseOutcome(BaseModel):
    """What the page or command tells the person at once."""

    status: str
    message: str
