"""Paid against agreed (DOMAIN.md): a payment recorded at any amount other than the one due is an
underpayment or an overpayment, shown with its exact difference, and the case stays open until the
officer resolves it: chase the rest (a new payment wait, with its reminders), or accept the
difference with reasons. What the claim and a practice's share have in common; each case carries
out the transitions with its own waits and emails.
"""

from __future__ import annotations

from domain.escalation import ResponseRefused
from domain.money import format_pence
from domain.responses import FieldSpec, ResponseInput

CHASE_BALANCE = "chase_balance"
ACCEPT_SHORTFALL = "accept_shortfall"
ACCEPT_OVERPAYMENT = "accept_overpayment"

UNDERPAID = "underpaid"  # statuses while the officer decides
OVERPAID = "overpaid"
PAID = "paid"  # outcomes
PAID_SHORT = "paid_short"
PAID_OVER = "paid_over"

LABELS: dict[str, str] = {
    CHASE_BALANCE: "Chase the rest of the payment",
    ACCEPT_SHORTFALL: "Accept the shortfall, with reasons",
    ACCEPT_OVERPAYMENT: "Accept the overpayment, with reasons",
}
FIELDS: dict[str, list[FieldSpec]] = {
    CHASE_BALANCE: [FieldSpec("on_date", "Rest to be paid by (optional; default 30 days)", "date")],
    ACCEPT_SHORTFALL: [FieldSpec("reasons", "Why the LMC accepts less than was due", "text", True)],
    ACCEPT_OVERPAYMENT: [FieldSpec("reasons", "Why the LMC accepts more than was due", "text", True)],
}
RESOLVING = (CHASE_BALANCE, ACCEPT_SHORTFALL, ACCEPT_OVERPAYMENT)


def resolving_actions(status: str) -> list[str]:
    """What the officer may do about a payment that differs from the one due."""
    return {UNDERPAID: [CHASE_BALANCE, ACCEPT_SHORTFALL], OVERPAID: [ACCEPT_OVERPAYMENT]}.get(status, [])


def gap_status(gap: int) -> str | None:
    """The status a payment gap puts a case in; None when the payment is exactly what was due."""
    if gap == 0:
        return None
    return UNDERPAID if gap < 0 else OVERPAID


def gap_facts(due_pence: int, received_pence: int | None) -> list[tuple[str, str]]:
    """'Received' and, if it differs from what was due, 'Underpaid by' or 'Overpaid by', to the penny."""
    if received_pence is None:
        return []
    facts = [("Received", format_pence(received_pence))]
    gap = received_pence - due_pence
    if gap < 0:
        facts.append(("Underpaid by", format_pence(-gap)))
    elif gap > 0:
        facts.append(("Overpaid by", format_pence(gap)))
    return facts


def describe_gap(due_pence: int, received_pence: int) -> str:
    """'£2,800.00 received against £2,837.00 due: £37.00 short' (or 'over')."""
    gap = received_pence - due_pence
    word = "short" if gap < 0 else "over"
    return (
        f"{format_pence(received_pence)} received against {format_pence(due_pence)} due: "
        f"{format_pence(abs(gap))} {word}"
    )


def check_received(response: ResponseInput, outstanding_pence: int) -> None:
    """An amount received, if given, is more than £0; leaving it out means the amount outstanding arrived."""
    if response.amount_pence is not None and response.amount_pence <= 0:
        raise ResponseRefused(
            "amount_pence: the amount received must be more than £0.00; leave it out if the "
            f"{format_pence(outstanding_pence)} outstanding arrived in full."
        )


def check_corrected(response: ResponseInput) -> None:
    """A correction of the amount confirmed received gives the amount, more than £0."""
    if response.amount_pence is None or response.amount_pence <= 0:
        raise ResponseRefused(
            "amount_pence: give the amount that arrived with the payment you confirmed, more than £0.00."
        )


def check_resolution(response: ResponseInput) -> None:
    """Accepting a difference needs reasons (chasing's date is checked by the case, which knows today)."""
    if response.action in (ACCEPT_SHORTFALL, ACCEPT_OVERPAYMENT) and not (response.reasons or "").strip():
        raise ResponseRefused("reasons: say why the LMC accepts a payment other than the one due.")


def gap(received_pence: int | None, due_pence: int | None) -> int | None:
    """Received minus due: negative is short, 0 is paid in full, None before anything is recorded."""
    if received_pence is None or due_pence is None:
        return None
    return received_pence - due_pence


def outstanding(received_pence: int | None, due_pence: int | None) -> int:
    """What is still to come: never negative (an overpayment leaves nothing outstanding)."""
    return max((due_pence or 0) - (received_pence or 0), 0)


def next_step(gap_pence: int) -> str:
    """What the officer may do about a gap, in words."""
    return "chase the rest or accept the shortfall" if gap_pence < 0 else "accept the overpayment"
