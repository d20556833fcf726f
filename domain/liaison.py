"""What an LMC-ICB liaison meeting records afterwards: each item's outcome and, where the ICB undertook
to do something, the commitment (what, which of its contacts, by when). A commitment is chased like
any other request: it becomes a confirmation the ICB contact is asked for by the date agreed, with
the shared reminder and ladder if the date passes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from domain.confirmation import ConfirmationRequest
from domain.contacts import Contact, Organisation
from domain.identifiers import FreeText, HeaderText, SafeEmail
from domain.working_days import describe_date

TOPIC = "liaison_commitment"
"""The confirmation's topic (and the deadline policy's key in the configuration)."""


class OutcomeRow(BaseModel):
    """One line of the outcomes form, as typed: the item discussed, what was agreed, and optionally
    what the ICB committed to, who for the ICB, and by when."""

    item: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")
    outcome: FreeText = Field(min_length=3, max_length=2000)
    commitment: HeaderText | None = Field(default=None, min_length=3, max_length=200)
    contact: SafeEmail | None = None
    due: date | None = None


class MeetingOutcomes(BaseModel):
    rows: list[OutcomeRow] = Field(min_length=1)


COMMITMENT_PARTS = {
    "commitment": "Say what the ICB committed to",
    "contact": "Choose who at the ICB committed to it",
    "due": "Give the date it is due by",
}


def missing_commitment_parts(row: OutcomeRow) -> dict[str, str]:
    """A commitment needs all of what, who and by when; the parts missing from a row that has any."""
    given = {"commitment": row.commitment, "contact": row.contact, "due": row.due}
    if not any(given.values()):
        return {}
    return {name: COMMITMENT_PARTS[name] for name, value in given.items() if not value}


def ladder_from(icb: Organisation, contact: Contact) -> Organisation:
    """The ICB with the contact who committed at level 1 and the ladder climbing from their seniority:
    a director's commitment is chased with the director, then the most senior contact."""
    level = next(i for i, c in enumerate(icb.ladder) if c.email == contact.email)
    above = icb.ladder[level:]
    return icb.model_copy(update={"ladder": [*above, *[icb.ladder[-1]] * (3 - len(above))]})


def commitment_request(
    icb: Organisation, contact: Contact, what: str, due: date, meeting_date: date, item_title: str | None
) -> ConfirmationRequest:
    """The confirmation the ICB contact is asked for: that the commitment was met, by the date agreed."""
    when = describe_date(meeting_date)
    ask = [
        f"At the LMC liaison meeting on {when}, {contact.name} ({contact.title}) undertook for {icb.name} to: {what}.",
        *([f"This was agreed under the item: {item_title}."] if item_title else []),
        f"Please confirm here once it is done, by {describe_date(due)}, with a reference or a link to what was sent. "
        "If it cannot be done, say why.",
    ]
    return ConfirmationRequest(
        topic=TOPIC,
        title=f"Liaison meeting commitment: {what}",
        ask=ask,
        reference_label="What was done (a reference or a link)",
        may_refuse=True,
        refuse_label="It cannot be done, with reasons",
        deadline_date=due,
        facts=[
            ("Liaison meeting", when),
            ("Committed to by", f"{contact.name}, {contact.title}"),
            ("Due by", describe_date(due)),
        ],
    )
