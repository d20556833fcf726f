"""The engine's internal names (a wait's purpose, a case's status or outcome, a payer request's
topic) as a recipient reads them: one place, so no email or page shows a snake_case key.

Unknown names fall back to their words with underscores as spaces, never to the key itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported: the CLI's `list` reads these words and stays light
    from domain.contacts import Role

WAITS: dict[str, str] = {
    "acknowledgement": "an acknowledgement that the claim was received",
    "decision": "a decision on the claim",
    "payment": "the payment",
    "officer_reply": "a reply to the response",
    "information": "the information the payer asked the LMC for",
    "payment_decision": "the LMC's decision on the payment received",
    "officer_decision": "the LMC officer's decision",
    "returns": "the practices' workload returns",
    "year_end": "confirmation of a year-end reconciliation mechanism",
    "incident_report": "confirmation that the incident report was sent",
    "icb_message": "confirmation that the message to practices was sent",
    "pot": "confirmation of the capitation pot for redistribution",
    "claim": "a decision on the compensation claim",
}

STATUSES: dict[str, str] = {
    "submitted": "sent, waiting for acknowledgement",
    "acknowledged": "acknowledged, waiting for a decision",
    "information_requested": "more information asked of the LMC",
    "counter_offered": "a different amount offered",
    "rejected": "rejected by the payer",
    "disputed": "disputed by the LMC, waiting for a new decision",
    "payment_expected": "agreed, waiting for payment",
    "underpaid": "paid less than agreed",
    "overpaid": "paid more than agreed",
    "closed": "closed",
    "awaiting": "waiting for a reply",
    "awaiting_return": "waiting for the practice's return",
    "returned": "return received",
    "collecting_returns": "collecting practices' returns",
    "returns_closed": "returns closed",
    "claiming": "claim with the payer",
    "paying": "paying practices their shares",
    "awaiting_payment": "waiting for payment",
    "paid": "paid",
    "refused": "refused by the payer, waiting for the LMC's next step",
    "share_notified": "share notified, waiting for the payment to arrive",
    "awaiting_pot": "waiting for the ICB to confirm the pot",
    "pot_refused": "pot refused by the ICB, waiting for the LMC's decision",
    "awaiting_digest": "to go in the day's digest",
    "awaiting_answer": "waiting for an answer",
    "nothing_due": "nothing due",
}

STOPPED = "stopped"
"""What a case ops stopped (Temporal's cancel or terminate) shows: its own state stops where it was, so the
readers say this instead (`CaseView.stopped`, the list rows, `--status stopped`)."""
AWAITED = ("due by", "expected by")
"""How a fact says something is awaited ('Return due by', 'Payment expected by'): an ended case awaits nothing."""


def without_awaited(facts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`facts` less those saying when something is awaited (`AWAITED`)."""
    return [(label, value) for label, value in facts if not label.lower().endswith(AWAITED)]


SAID_TO_THE_PRACTICE = {
    "Your return": "The practice's return",
    "Your share": "The practice's share",
    "Your list weighting": "The practice's list weighting",
}
"""Facts a practice's case says to the practice itself, and how anyone else reading them (its LMC officer, ops)
reads them."""


def for_reader(facts: list[tuple[str, str]], reader: Role | None) -> list[tuple[str, str]]:
    """`facts` as `reader` reads them: "your" only to the practice whose case it is (None: a page that reader
    opens, the practice's own)."""
    if reader is None or reader == "practice":
        return facts
    return [(SAID_TO_THE_PRACTICE.get(label, label), value) for label, value in facts]


OUTCOMES: dict[str, str] = {
    "paid": "paid in full",
    "paid_short": "paid less than agreed, accepted by the LMC",
    "paid_over": "paid more than agreed, accepted by the LMC",
    "commissioned": "the work is to be commissioned",
    "withdrawn": "withdrawn by the LMC",
    "agreed": "agreed",
    "confirmed": "confirmed",
    "refused": "refused",
    "settled": "settled",
    "not_agreed": "closed without agreement",
    "closed_by_officer": "closed by the LMC officer",
    STOPPED: "stopped by ops staff",
}

HOLDERS: dict[str, str] = {
    "payer": "the payer",
    "officer": "the LMC",
    "practice": "the practice",
    "observer": "an observer",
}


def status_key(typed: str) -> str | None:
    """The status or outcome a person typed, as its key or in the words lists show it ('collecting practices'
    returns', 'Payment expected', 'payment-expected'), or None."""
    said = " ".join(typed.strip().lower().replace("-", " ").replace("_", " ").split())
    key = said.replace(" ", "_")
    if is_status(key):
        return key
    for table in (STATUSES, OUTCOMES):
        for known, words in table.items():
            if " ".join(words.lower().split()) == said:
                return known
    return None


def is_status(key: str) -> bool:
    """A status or outcome some case can be in (what the lists filter by): tests/domain/test_wording.py keeps these
    tables holding every one the domain sets."""
    return key in STATUSES or key in OUTCOMES


def _words(key: str) -> str:
    return key.replace("_", " ").replace("-", " ")


def wait(purpose: str) -> str:
    """What a wait is for: 'an acknowledgement that the claim was received'."""
    return WAITS.get(purpose, _words(purpose))


SHORT_WAITS: dict[str, str] = {
    "officer_reply": "LMC reply",
    "information": "information for the payer",
    "payment_decision": "LMC decision on the payment",
    "officer_decision": "LMC decision",
    "returns": "workload return",
    "year_end": "year-end confirmation",
    "incident_report": "incident report confirmation",
    "icb_message": "confirmation of the ICB's message",
    "pot": "confirmation of the pot",
    "claim": "claim decision",
}


def wait_short(purpose: str) -> str:
    """What a wait is for, in a subject line: 'acknowledgement', 'year-end confirmation'."""
    return SHORT_WAITS.get(purpose, _words(purpose))


def waiting(purpose: str, role: str) -> str:
    """What the case waits for and from whom: 'a decision on the claim from the payer'."""
    if purpose == "payment" and role == "practice":
        return "the practice to confirm that its payment arrived"
    if purpose == "returns":  # an incident's: from every practice, as the purpose already says
        return wait(purpose)
    words, who = wait(purpose), holder(role)
    if who.removeprefix("the ") in words:  # "the LMC's decision on the payment received": not "... from the LMC"
        return words
    return f"{words} from {who}"


def status(key: str) -> str:
    """A case's state in words: 'acknowledged, waiting for a decision'."""
    late = key.endswith(" (late)")
    base = key.removesuffix(" (late)")
    return STATUSES.get(base, _words(base)) + (" (late)" if late else "")


def outcome(key: str) -> str:
    """How a case ended: 'closed by the LMC officer'."""
    return OUTCOMES.get(key, _words(key))


def holder(role: str) -> str:
    """Who holds the ball: 'the payer', 'the LMC'."""
    return HOLDERS.get(role, _words(role))


def in_a_sentence(heading: str) -> str:
    """A heading as a sentence carries it: 'Incident report' as 'incident report', 'ICB message' as it is."""
    return heading[:1].lower() + heading[1:] if heading[1:2].islower() else heading


def topic(key: str) -> str:
    """A payer request's topic as a heading: 'Year-end reconciliation'."""
    return {
        "year_end": "Year-end reconciliation",
        "incident_report": "Incident report",
        "icb_message": "ICB message to practices",
        "pot": "Capitation pot",
        "claim": "Compensation claim",
    }.get(key, _words(key).capitalize())
