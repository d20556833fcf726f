"""Who the many-practice kinds send links to, and what each may do: practices return and confirm
receipt; payers confirm (and, for a claim, negotiate); the officer runs the incident."""

from __future__ import annotations

from domain import confirmation, incident, negotiation, payment, practice_return
from domain.contacts import Role
from domain.negotiation import DECISIONS, Act

PRACTICE = (practice_return.SUBMIT_RETURN, practice_return.CONFIRM_RECEIPT)
CONFIRMING_PAYER = (confirmation.CONFIRM, confirmation.REFUSE)
INCIDENT_OFFICER = (
    incident.EXTEND_RETURNS,
    incident.CLOSE_RETURNS,
    incident.CLOSE_INCIDENT,
    confirmation.WITHDRAW,
    *payment.RESOLVING,  # on a practice's case paid other than its share
)
NEGOTIATING_PAYER = (Act.ACKNOWLEDGE.value, *(a.value for a in DECISIONS))
NEGOTIATING_OFFICER = (Act.SUPPLY_INFO.value, Act.ACCEPT_OFFER.value, Act.DISPUTE.value)

LABELS = {**practice_return.LABELS, **confirmation.LABELS, **incident.LABELS}
NEGOTIATION_LABELS = {**negotiation.LABELS, **LABELS}

PARTIES_CONFIRMING = {Role.PRACTICE: PRACTICE, Role.PAYER: CONFIRMING_PAYER, Role.OFFICER: INCIDENT_OFFICER}
PARTIES_NEGOTIATING = {
    Role.PRACTICE: PRACTICE,
    Role.PAYER: (*CONFIRMING_PAYER, *NEGOTIATING_PAYER),
    Role.OFFICER: (*INCIDENT_OFFICER, *NEGOTIATING_OFFICER),
}
