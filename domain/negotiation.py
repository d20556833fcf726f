"""Negotiating a claimed amount with a payer: the part every money claim shares.

Submitted, the payer acknowledges and decides (accept, accept in part, reject, ask for
information); the LMC answers questions (the payer's clock paused meanwhile), accepts or
disputes a counter-offer or a rejection (a dispute climbs the ladder), or withdraws.
What agreement leads to is the kind's own business (`on_agreed`), as are extra actions.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from domain import formatting, wording
from domain.contacts import Role
from domain.escalation import (
    LADDER_AND_TIES,
    TOP_LEVEL,
    AuditEffect,
    Effect,
    EscalationCase,
    ResponseRefused,
    Wait,
)
from domain.money import format_pence
from domain.responses import FieldSpec, ResponseInput, ResponseOutcome
from domain.working_days import describe_date, describe_deadline


class Status(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    INFORMATION_REQUESTED = "information_requested"
    COUNTER_OFFERED = "counter_offered"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    CLOSED = "closed"


class Act(StrEnum):
    """Actions of the negotiation. Payer: the first five; officer: the rest."""

    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    ACCEPT_PART = "accept_part"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    SUPPLY_INFO = "supply_info"
    ACCEPT_OFFER = "accept_offer"
    DISPUTE = "dispute"
    WITHDRAW = "withdraw"


_STATUSES = {s.value for s in Status}
DECISIONS = [Act.ACCEPT, Act.ACCEPT_PART, Act.REJECT, Act.REQUEST_INFO]
WITHDRAWN = "withdrawn"

LABELS: dict[str, str] = {
    "acknowledge": "Acknowledge receipt",
    "accept": "Accept the full amount",
    "accept_part": "Offer a different amount",
    "reject": "Reject the claim, with reasons",
    "request_info": "Ask the LMC for more information",
    "supply_info": "Reply with the information asked for",
    "accept_offer": "Accept the amount offered",
    "dispute": "Dispute the response (goes to a more senior contact)",
    "withdraw": "Withdraw the claim, with reasons",
}

FIELDS: dict[str, list[FieldSpec]] = {
    "accept": [FieldSpec("on_date", "Expected payment date (optional; default 30 days)", "date")],
    "accept_part": [
        FieldSpec("amount", "Amount you offer (£)", "money", True),
        FieldSpec("reasons", "Reasons", "text", True),
        FieldSpec("on_date", "Expected payment date (optional)", "date"),
    ],
    "reject": [FieldSpec("reasons", "Reasons", "text", True)],
    "request_info": [FieldSpec("text", "What information do you need?", "text", True)],
    "supply_info": [FieldSpec("text", "The information requested", "text", True)],
    "dispute": [FieldSpec("reasons", "Why the LMC disputes the response", "text", True)],
    "withdraw": [FieldSpec("reasons", "Reasons", "text", True)],
}


class NegotiationCase(EscalationCase):
    claimed_pence: int
    offered_pence: int | None = None
    offered_on: date | None = None  # the payment date a counter-offer gave
    offer_reasons: str | None = None  # and its reasons: both carry into the agreement when it is accepted
    agreed_pence: int | None = None
    agreed_terms: str | None = None
    last_reasons: str | None = None
    open_question: str | None = None
    paused_wait: Wait | None = None
    status_before_question: str | None = None

    noun: ClassVar[str] = "claim"

    # --- what kinds may change ----------------------------------------------------------
    def decision_days(self) -> int:
        return self.policy.response_days

    def decision_actions(self) -> list[str]:
        return [a.value for a in DECISIONS]

    def extra_officer_actions(self) -> list[str]:
        """Officer actions a kind adds for its own states (e.g. confirming payment)."""
        return []

    def on_agreed(self, response: ResponseInput, now: datetime) -> str:
        """The amount is agreed (`agreed_pence` set); move on and say what happens next."""
        raise NotImplementedError

    def apply_extra(self, response: ResponseInput, now: datetime) -> tuple[str, list[Effect]]:
        """Take an action the kind added; the generic ones are handled here."""
        raise ResponseRefused(f"unknown action {response.action}")

    def require_extra(self, response: ResponseInput) -> None:
        """Field rules for the kind's own actions."""

    def require_extra_values(self, response: ResponseInput, now: datetime | None) -> None:
        """Money-and-dates rules for the kind's own actions (cases under those rules only)."""

    def agreed_payment_date(self, response: ResponseInput) -> date | None:
        """The payment date the agreement carries: the one given with 'accept', or, under the money-and-dates
        rules, the one the accepted counter-offer gave. None: the default (30 days)."""
        if response.action == Act.ACCEPT:
            return response.on_date
        if response.action == Act.ACCEPT_OFFER and self.money_and_dates:
            return self.offered_on
        return None

    def all_labels(self) -> dict[str, str]:
        return LABELS

    def all_fields(self) -> dict[str, list[FieldSpec]]:
        return FIELDS

    # --- EscalationCase -----------------------------------------------------------------
    def action_labels(self) -> dict[str, str]:
        return self.all_labels()

    def action_fields(self) -> dict[str, list[FieldSpec]]:
        return self.all_fields()

    def payer_actions(self) -> list[str]:
        if self.status == Status.SUBMITTED:
            return [Act.ACKNOWLEDGE.value, *self.decision_actions()]
        if self.status in (Status.ACKNOWLEDGED, Status.DISPUTED):
            return self.decision_actions()
        return []

    def officer_actions(self) -> list[str]:
        if self.is_closed:
            return []
        own: list[str] = (
            {
                Status.INFORMATION_REQUESTED: [Act.SUPPLY_INFO.value],
                Status.COUNTER_OFFERED: [Act.ACCEPT_OFFER.value, Act.DISPUTE.value],
                Status.REJECTED: [Act.DISPUTE.value],
            }.get(Status(self.status), [])
            if self.status in _STATUSES
            else []
        )
        return [*own, *self.extra_officer_actions(), Act.WITHDRAW.value]

    def money_facts(self) -> list[tuple[str, str]]:
        facts = [("Claimed", format_pence(self.claimed_pence)), ("Status", wording.status(self.status))]
        if self.offered_pence is not None:
            paid_by = f", to be paid by {describe_date(self.offered_on)}" if self.offered_on else ""
            facts.append(("Offered", format_pence(self.offered_pence) + paid_by))
            if self.offer_reasons and self.agreed_pence is None:  # the officer decides on the offer with them
                facts.append(("Reasons given for the offer", self.offer_reasons))
        if self.status == Status.REJECTED and self.last_reasons:
            facts.append(("Reasons given for rejecting", self.last_reasons))
        if self.agreed_pence is not None:
            facts.append(("Agreed", format_pence(self.agreed_pence)))
        if self.agreed_terms:
            facts.append(("Terms agreed", self.agreed_terms))
        if self.open_question:
            facts.append(("Information requested", self.open_question))
        return facts

    def check(self, response: ResponseInput, now: datetime | None = None) -> None:
        self.check_actor(response)
        _require_fields(response, self)
        self.require_extra(response)
        if self.money_and_dates:
            if response.action in (Act.ACCEPT, Act.ACCEPT_PART) and response.on_date is not None:
                self.require_working_day("on_date", "a payment date", response.on_date, now)
            self.require_extra_values(response, now)

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        self.check(response, now)
        self.as_of = now
        action = response.action
        audit = self.record_response(action, response.actor_email, response_detail(self.status, response))
        who = response.actor_email
        effects: list[Effect] = []
        noun = self.noun

        if action == Act.ACKNOWLEDGE:
            self.status = Status.ACKNOWLEDGED
            self.wait_for("decision", Role.PAYER, self.decision_days(), now)
            message = f"Acknowledged. A decision is due by {self.deadline_text()}."
            effects.append(
                self.email_officer(
                    "acknowledged",
                    f"{noun.capitalize()} acknowledged",
                    [
                        f"{who} acknowledged the {noun}.",
                        message,
                    ],
                )
            )
        elif action == Act.ACCEPT:
            self.agreed_pence = self.claimed_pence
            message = self.on_agreed(response, now)
            effects.append(
                self.email_officer(
                    "accepted",
                    f"{noun.capitalize()} accepted in full",
                    [
                        f"{who} accepted the {noun} in full.",
                        message,
                    ],
                )
            )
        elif action == Act.ACCEPT_PART:
            self.status = Status.COUNTER_OFFERED
            self.offered_pence = response.amount_pence
            self.offered_on = response.on_date
            self.offer_reasons = response.reasons
            self.last_reasons = response.reasons
            self.wait_for("officer_reply", Role.OFFICER, self.policy.officer_reply_days, now)
            offered = format_pence(self.offered_pence or 0)
            message = f"Counter-offer of {offered} recorded; the LMC will reply."
            effects.append(
                self.email_officer(
                    "counter_offered",
                    "Counter-offer to consider",
                    [
                        f"{who} offered {offered} against {format_pence(self.claimed_pence)} claimed.",
                        f"Their reasons: {response.reasons}",
                        f"Your next step, by {self.deadline_text()}, through the link below: "
                        + self.next_steps_in_words(),
                    ],
                )
            )
        elif action == Act.REJECT:
            self.status = Status.REJECTED
            self.last_reasons = response.reasons
            self.wait_for("officer_reply", Role.OFFICER, self.policy.officer_reply_days, now)
            message = "Rejection recorded; the LMC will decide whether to dispute it."
            effects.append(
                self.email_officer(
                    "rejected",
                    f"{noun.capitalize()} rejected",
                    [
                        f"{who} rejected the {noun}. Their reasons: {response.reasons}",
                        f"Your next step, by {self.deadline_text()}, through the link below: "
                        + self.next_steps_in_words(),
                    ],
                )
            )
        elif action == Act.REQUEST_INFO:
            self.paused_wait = self.pause_payer_clock(now)
            self.status_before_question = self.status
            self.status = Status.INFORMATION_REQUESTED
            self.open_question = response.text
            self.wait_for("information", Role.OFFICER, self.policy.officer_reply_days, now)
            message = "Question sent to the LMC. Your deadline is paused until they answer."
            effects.append(
                self.email_officer(
                    "information_requested",
                    "Information requested",
                    [
                        f"{who} asks: {response.text}",
                        f"Your next step, by {self.deadline_text()}, through the link below: "
                        + self.next_steps_in_words()
                        + f" {self.payer.name}'s clock is paused meanwhile.",
                    ],
                )
            )
        elif action == Act.SUPPLY_INFO:
            question = self.open_question or ""
            self.status = self.status_before_question or Status.ACKNOWLEDGED
            if self.paused_wait is not None:
                self.resume_payer_clock(self.paused_wait, now)
            else:
                self.wait_for("decision", Role.PAYER, self.decision_days(), now)
            self.paused_wait = None
            self.open_question = None
            message = f"Information sent; {self.payer.name}'s clock runs again until {self.deadline_text()}."
            effects.append(
                self.email_payer(
                    "information_supplied",
                    "The information you asked for",
                    [
                        f"You asked: {question}",
                        f"The LMC answers: {response.text}",
                        f"Please respond by {self.deadline_text()}.",
                    ],
                )
            )
        elif action == Act.ACCEPT_OFFER:
            self.agreed_pence = self.offered_pence
            accepted = [f"The LMC accepts your offer of {format_pence(self.agreed_pence or 0)}."]
            if self.money_and_dates:
                self.agreed_terms = self.offer_reasons
                if self.offered_on is not None:
                    accepted = [
                        f"The LMC accepts your offer of {format_pence(self.agreed_pence or 0)}, to be paid by "
                        f"{describe_date(self.offered_on)}."
                    ]
                if self.offer_reasons:
                    accepted.append(f"On your terms: {self.offer_reasons}")
            message = self.on_agreed(response, now)
            effects.append(self.email_payer("offer_accepted", "Counter-offer accepted", [*accepted, message]))
        elif action == Act.DISPUTE:
            answered, their_reasons = self.status, self.last_reasons
            self.status = Status.DISPUTED
            self.last_reasons = response.reasons
            if self.ladder.level < TOP_LEVEL:
                self.ladder.level += 1
            listed = (  # as a missed deadline's climb does, for cases under LADDER_AND_TIES; said once
                self.onto_liaison_agenda()
                if self.rules >= LADDER_AND_TIES and not self.ladder.on_liaison_agenda
                else []
            )
            self.wait_for("decision", Role.PAYER, self.decision_days(), now)
            message = f"Disputed; escalated to {self.payer_contact.title}, response due {self.deadline_text()}."
            effects.append(
                self.email_payer(
                    "disputed",
                    f"The LMC disputes the response to its {noun}",
                    [
                        *self.dispute_history(answered, their_reasons),
                        f"The LMC disputes the response to its {noun} of {format_pence(self.claimed_pence)}: "
                        f"{response.reasons}",
                        f"Please respond by {self.deadline_text()}.",
                        *listed,
                    ],
                )
            )
        elif action == Act.WITHDRAW:
            self.last_reasons = response.reasons
            self.close(WITHDRAWN)
            message = f"The {noun} is withdrawn and closed."
            effects.append(
                self.email_payer(
                    "withdrawn",
                    f"{noun.capitalize()} withdrawn",
                    [
                        f"The LMC has withdrawn this {noun}: {response.reasons}",
                    ],
                )
            )
        else:
            message, extra = self.apply_extra(response, now)
            effects.extend(extra)
        effects.insert(0, audit)
        if self.is_closed:
            effects.append(AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome}))
        return ResponseOutcome(status=self.status, message=message), effects

    def agreed_payment_due(self, response: ResponseInput, now: datetime) -> datetime:
        """17:00 on the agreed payment date, or the default (30 calendar days on)."""
        return self.payment_date(self.agreed_payment_date(response), now)

    def next_steps_in_words(self) -> str:
        """The officer's actions open now, as their buttons say them: “Accept the amount offered” or ..."""
        labels = self.action_labels()
        steps = [f"\u201c{labels.get(a, a)}\u201d" for a in self.officer_actions()]
        return formatting.listing(steps, "or") + "."

    def deadline_text(self) -> str:
        if self.wait is None or self.wait.deadline is None:
            return "no deadline"
        return describe_deadline(self.wait.deadline)

    def dispute_history(self, answered: str, their_reasons: str | None) -> list[str]:
        """For a senior contact a dispute reaches, who has not seen the earlier thread: what was sent to whom,
        and what they answered (the reminders' letters say the same for a missed deadline)."""
        if self.ladder.level <= 1:
            return []
        earlier = [self.payer.contact_at(level) for level in range(1, self.ladder.level)]
        who = formatting.listing([f"{c.name} ({c.title})" for c in earlier])
        if answered == Status.COUNTER_OFFERED and self.offered_pence is not None:
            answer = f"offered {format_pence(self.offered_pence)} instead"
            why = self.offer_reasons
        else:
            answer, why = f"rejected the {self.noun}", their_reasons
        return [
            f"What happened so far: {self.lmc.name} sent its {self.noun} \u201c{self.title}\u201d (reference "
            f"{self.escalation_id}, {format_pence(self.claimed_pence)}) to {who}, and {self.payer.name} "
            f"{answer}" + (f", saying: {why}" if why else "") + ". You are receiving this because the LMC disputes "
            "that answer and has taken it to a more senior level.",
        ]


def response_detail(status_before: str, response: ResponseInput) -> dict[str, Any]:
    """What of a response goes into the audit log."""
    detail: dict[str, Any] = {"status_before": status_before}
    if response.amount_pence is not None:
        detail["amount_pence"] = response.amount_pence
    if response.reasons:
        detail["reasons"] = response.reasons
    if response.text:
        detail["text"] = response.text
    if response.on_date:
        detail["on_date"] = response.on_date.isoformat()
    return detail


def _require_fields(response: ResponseInput, case: NegotiationCase) -> None:
    action = response.action
    if action in (Act.REJECT, Act.DISPUTE, Act.WITHDRAW, Act.ACCEPT_PART) and not (response.reasons or "").strip():
        raise ResponseRefused("reasons: give your reasons for this response.")
    if action in (Act.REQUEST_INFO, Act.SUPPLY_INFO) and not (response.text or "").strip():
        raise ResponseRefused("text: say what information is asked for or supplied.")
    if action == Act.ACCEPT_PART:
        if response.amount_pence is None or response.amount_pence <= 0:
            raise ResponseRefused(
                "amount_pence: a counter-offer needs an amount of more than £0.00; to offer nothing, reject the claim."
            )
        if response.amount_pence >= case.claimed_pence:
            raise ResponseRefused(
                f"amount_pence: a counter-offer must be less than the {format_pence(case.claimed_pence)} "
                f"claimed; to agree it in full, choose '{LABELS[Act.ACCEPT]}'."
            )
