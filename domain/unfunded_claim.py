"""The unfunded work claim: work moved onto practices without funding, claimed line by
line against a tariff, pursued from submission to payment (DOMAIN.md, kind 1).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, StrictInt, model_validator

from domain.configuration import TariffRate
from domain.contacts import Contact, Lmc, Organisation, Role
from domain.escalation import AuditEffect, DeadlinePolicy, Effect, EscalationCase, ResponseRefused, Wait
from domain.identifiers import FreeText, OdsCode
from domain.money import Pence, format_pence
from domain.responses import ResponseInput, ResponseOutcome
from domain.working_days import at_close_of_day, describe_deadline

KIND = "unfunded_claim"


class Category(StrEnum):
    ONWARD_REFERRAL = "onward_referral"
    DNA_REREFERRAL = "dna_rereferral"
    DISCHARGE_SUMMARY = "discharge_summary"
    CLINIC_LETTER = "clinic_letter"
    DISCHARGE_MEDICATION = "discharge_medication"
    OUTPATIENT_MEDICATION = "outpatient_medication"
    FIT_NOTE = "fit_note"
    SHARED_CARE = "shared_care_without_agreement"
    TEST_RESULTS = "test_results"
    OTHER = "other"


# The provider's NHS Standard Contract duty breached, as LMCs summarised the 2017/19 contract.
CONTRACT_DUTIES: dict[Category, tuple[str, str | None]] = {
    Category.ONWARD_REFERRAL: ("refer onward for the same or a related condition", "SC8.4"),
    Category.DNA_REREFERRAL: ("no blanket discharge to the GP to re-refer after a missed appointment", "SC6"),
    Category.DISCHARGE_SUMMARY: ("discharge summary sent within 24 hours", "SC11.5"),
    Category.CLINIC_LETTER: ("clinic letter sent within 7 days", "SC11.7"),
    Category.DISCHARGE_MEDICATION: ("at least 7 days' supply of discharge medication", "SC11.9"),
    Category.OUTPATIENT_MEDICATION: ("medication until the GP has the clinic letter", "SC11.10"),
    Category.FIT_NOTE: ("fit notes issued for the expected recovery period", "SC11.11"),
    Category.SHARED_CARE: ("prescribing moves only when the GP agrees", "SC11.3-11.4"),
    Category.TEST_RESULTS: ("the trust tells the patient their results and handles queries", None),
    Category.OTHER: ("as described", None),
}
CONTRACT_YEAR = "2017/19"


class ClaimLine(BaseModel):
    category: Category
    description: FreeText = Field(default="", max_length=500)
    count: StrictInt = Field(ge=1)
    unit_rate_pence: Pence
    evidence_refs: list[FreeText] = Field(default_factory=list)
    rate_is_example: bool = False

    @model_validator(mode="after")
    def _other_needs_description(self) -> ClaimLine:
        if self.category is Category.OTHER and not self.description.strip():
            raise ValueError("description is required for category 'other'")
        return self

    @property
    def amount_pence(self) -> int:
        return self.count * self.unit_rate_pence


class ClaimRequest(BaseModel):
    """What an officer submits (the JSON file behind `starter.py start-claim`)."""

    title: FreeText = Field(min_length=3, max_length=200)
    payer_code: str = Field(min_length=2, max_length=12)
    officer_email: str
    provider: FreeText = Field(min_length=2, max_length=200)
    practices: list[OdsCode] = Field(min_length=1)
    period_start: date
    period_end: date
    summary: FreeText = Field(default="", max_length=4000)
    lines: list[ClaimLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _period_in_order(self) -> ClaimRequest:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self

    @property
    def total_pence(self) -> int:
        return sum(line.amount_pence for line in self.lines)


def priced_claim(data: dict[str, Any], tariff: dict[str, TariffRate]) -> ClaimRequest:
    """A claim from its JSON form, each line without its own `unit_rate_pence` priced from
    the LMC's tariff (and marked as an example rate where the tariff says so)."""
    lines = data.get("lines")
    if isinstance(lines, list):
        priced = []
        for line in lines:
            if isinstance(line, dict) and "unit_rate_pence" not in line:
                rate = tariff.get(str(line.get("category")))
                if rate is not None:
                    line = {**line, "unit_rate_pence": rate.unit_rate_pence, "rate_is_example": rate.example}
            priced.append(line)
        data = {**data, "lines": priced}
    return ClaimRequest.model_validate(data)


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    INFORMATION_REQUESTED = "information_requested"
    COUNTER_OFFERED = "counter_offered"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    PAYMENT_EXPECTED = "payment_expected"
    CLOSED = "closed"


class Outcome(StrEnum):
    PAID = "paid"
    COMMISSIONED = "commissioned"
    WITHDRAWN = "withdrawn"


class PayerAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    ACCEPT_PART = "accept_part"
    COMMISSION = "commission"
    REJECT = "reject"
    REQUEST_INFO = "request_info"


class OfficerAction(StrEnum):
    SUPPLY_INFO = "supply_info"
    ACCEPT_OFFER = "accept_offer"
    DISPUTE = "dispute"
    CONFIRM_PAYMENT = "confirm_payment"
    WITHDRAW = "withdraw"


_DECISIONS = [
    PayerAction.ACCEPT,
    PayerAction.ACCEPT_PART,
    PayerAction.COMMISSION,
    PayerAction.REJECT,
    PayerAction.REQUEST_INFO,
]
_PAYER_OPEN: dict[str, list[PayerAction]] = {
    ClaimStatus.SUBMITTED: [PayerAction.ACKNOWLEDGE, *_DECISIONS],
    ClaimStatus.ACKNOWLEDGED: _DECISIONS,
    ClaimStatus.DISPUTED: _DECISIONS,
}
_OFFICER_OPEN: dict[str, list[OfficerAction]] = {
    ClaimStatus.INFORMATION_REQUESTED: [OfficerAction.SUPPLY_INFO],
    ClaimStatus.COUNTER_OFFERED: [OfficerAction.ACCEPT_OFFER, OfficerAction.DISPUTE],
    ClaimStatus.REJECTED: [OfficerAction.DISPUTE],
    ClaimStatus.PAYMENT_EXPECTED: [OfficerAction.CONFIRM_PAYMENT],
}

ACTION_LABELS: dict[str, str] = {
    "acknowledge": "Acknowledge receipt",
    "accept": "Accept the claim in full",
    "accept_part": "Accept in part (counter-offer)",
    "commission": "Commission the work going forward",
    "reject": "Reject the claim",
    "request_info": "Ask the LMC for more information",
    "supply_info": "Supply the information requested",
    "accept_offer": "Accept the counter-offer",
    "dispute": "Dispute (escalates)",
    "confirm_payment": "Confirm payment received",
    "withdraw": "Withdraw the claim",
}


class ClaimCase(EscalationCase):
    """The claim's state machine. `apply` checks then transitions and returns the effects."""

    claim: ClaimRequest
    claimed_pence: int
    offered_pence: int | None = None
    agreed_pence: int | None = None
    paid_pence: int | None = None
    payment_due: datetime | None = None
    commissioned_from: date | None = None
    last_reasons: str | None = None
    open_question: str | None = None
    paused_wait: Wait | None = None
    status_before_question: str | None = None

    @classmethod
    def open(
        cls,
        escalation_id: str,
        claim: ClaimRequest,
        lmc: Lmc,
        officer: Contact,
        payer: Organisation,
        policy: DeadlinePolicy,
        now: datetime,
    ) -> tuple[ClaimCase, list[Effect]]:
        case = cls(
            escalation_id=escalation_id,
            kind=KIND,
            title=claim.title,
            lmc=lmc,
            officer=officer,
            payer=payer,
            policy=policy,
            status=ClaimStatus.SUBMITTED,
            claim=claim,
            claimed_pence=claim.total_pence,
        )
        case.wait_for("acknowledgement", Role.PAYER, policy.acknowledgement_days, now)
        effects: list[Effect] = [
            AuditEffect(
                event="submitted",
                actor=officer.email,
                detail={
                    "payer": payer.code,
                    "provider": claim.provider,
                    "practices": claim.practices,
                    "claimed_pence": case.claimed_pence,
                    "lines": len(claim.lines),
                },
            ),
            case.email_payer(
                "submitted",
                f"Claim for unfunded work: {claim.title}",
                [
                    f"{lmc.name} claims {format_pence(case.claimed_pence)} on behalf of "
                    f"{len(claim.practices)} practice(s) for work moved onto general practice without funding "
                    f"by {claim.provider}.",
                    *([claim.summary] if claim.summary else []),
                    f"Please acknowledge receipt by {_deadline_text(case)}, using the link below.",
                ],
            ),
        ]
        return case, effects

    # --- what is open now ---------------------------------------------------------------
    def payer_actions(self) -> list[str]:
        return [a.value for a in _PAYER_OPEN.get(self.status, [])]

    def officer_actions(self) -> list[str]:
        if self.is_closed:
            return []
        return [*(a.value for a in _OFFICER_OPEN.get(self.status, [])), OfficerAction.WITHDRAW.value]

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Claim", self.title),
            ("Provider responsible", self.claim.provider),
            ("Payer", self.payer.name),
            ("Practices", ", ".join(self.claim.practices)),
            ("Period", f"{self.claim.period_start:%-d %b %Y} to {self.claim.period_end:%-d %b %Y}"),
            ("Claimed", format_pence(self.claimed_pence)),
            ("Status", self.status.replace("_", " ")),
        ]
        if self.offered_pence is not None:
            facts.append(("Offered", format_pence(self.offered_pence)))
        if self.agreed_pence is not None:
            facts.append(("Agreed", format_pence(self.agreed_pence)))
        if self.payment_due is not None:
            facts.append(("Payment expected by", f"{self.payment_due:%-d %B %Y}"))
        if self.open_question:
            facts.append(("Information requested", self.open_question))
        return facts

    def action_labels(self) -> dict[str, str]:
        return ACTION_LABELS

    # --- responses ----------------------------------------------------------------------
    def check(self, response: ResponseInput) -> None:
        """Refuse, with the reason a person can act on, anything `apply` must not take."""
        if self.is_closed:
            raise ResponseRefused(f"This escalation is closed ({self.outcome}); nothing more can be recorded.")
        role = response.actor_role
        if role is Role.PAYER and not self.payer.knows(response.actor_email):
            raise ResponseRefused(f"{response.actor_email} is not a contact of {self.payer.name} for this claim.")
        if role is Role.OFFICER and self.lmc.officer(response.actor_email) is None:
            raise ResponseRefused(f"{response.actor_email} is not an officer of {self.lmc.name}.")
        open_now = self.actions_for(role)
        if response.action not in open_now:
            label = ACTION_LABELS.get(response.action, response.action)
            raise ResponseRefused(
                f"'{label}' is not open while the claim is {self.status.replace('_', ' ')}"
                + (f"; open now: {', '.join(open_now)}." if open_now else "; nothing is open to you now.")
            )
        _require_fields(response, self)

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        self.check(response)
        action = response.action
        detail: dict[str, Any] = {"status_before": self.status}
        effects: list[Effect] = []
        if response.amount_pence is not None:
            detail["amount_pence"] = response.amount_pence
        if response.reasons:
            detail["reasons"] = response.reasons
        if response.text:
            detail["text"] = response.text
        if response.on_date:
            detail["on_date"] = response.on_date.isoformat()
        audit = self.record_response(action, response.actor_email, detail)
        who = response.actor_email

        if action == PayerAction.ACKNOWLEDGE:
            self.status = ClaimStatus.ACKNOWLEDGED
            self.wait_for("decision", Role.PAYER, self.policy.response_days, now)
            message = f"Acknowledged. A decision is due by {_deadline_text(self)}."
            effects.append(
                self.email_officer("acknowledged", "Claim acknowledged", [f"{who} acknowledged the claim.", message])
            )
        elif action == PayerAction.ACCEPT:
            self.agreed_pence = self.claimed_pence
            message = self._expect_payment(response, now)
            effects.append(
                self.email_officer(
                    "accepted", "Claim accepted in full", [f"{who} accepted the claim in full.", message]
                )
            )
        elif action == PayerAction.ACCEPT_PART:
            self.status = ClaimStatus.COUNTER_OFFERED
            self.offered_pence = response.amount_pence
            self.last_reasons = response.reasons
            self.wait_for("officer_reply", Role.OFFICER, self.policy.officer_reply_days, now)
            message = f"Counter-offer of {format_pence(self.offered_pence or 0)} recorded; the LMC will reply."
            effects.append(
                self.email_officer(
                    "counter_offered",
                    "Counter-offer to consider",
                    [
                        f"{who} offered {format_pence(self.offered_pence or 0)} "
                        f"against {format_pence(self.claimed_pence)} claimed.",
                        f"Their reasons: {response.reasons}",
                        f"Please accept or dispute by {_deadline_text(self)}.",
                    ],
                )
            )
        elif action == PayerAction.COMMISSION:
            self.commissioned_from = response.on_date
            self.last_reasons = response.reasons
            back = response.amount_pence or 0
            if back:
                self.agreed_pence = back
                message = self._expect_payment(response, now, date_given=False)
                message = f"Commissioned from {response.on_date}, with back-payment of {format_pence(back)}. {message}"
            else:
                self.close(Outcome.COMMISSIONED)
                message = f"Commissioned from {response.on_date}, without back-payment. The claim is closed."
            effects.append(self.email_officer("commissioned", "Work to be commissioned", [f"{who}: {message}"]))
        elif action == PayerAction.REJECT:
            self.status = ClaimStatus.REJECTED
            self.last_reasons = response.reasons
            self.wait_for("officer_reply", Role.OFFICER, self.policy.officer_reply_days, now)
            message = "Rejection recorded; the LMC will decide whether to dispute it."
            effects.append(
                self.email_officer(
                    "rejected",
                    "Claim rejected",
                    [
                        f"{who} rejected the claim. Their reasons: {response.reasons}",
                        f"Dispute it (which escalates) or withdraw by {_deadline_text(self)}.",
                    ],
                )
            )
        elif action == PayerAction.REQUEST_INFO:
            self.paused_wait = self.pause_payer_clock(now)
            self.status_before_question = self.status
            self.status = ClaimStatus.INFORMATION_REQUESTED
            self.open_question = response.text
            self.wait_for("information", Role.OFFICER, self.policy.officer_reply_days, now)
            message = "Question sent to the LMC. Your deadline is paused until they answer."
            effects.append(
                self.email_officer(
                    "information_requested",
                    "Information requested",
                    [
                        f"{who} asks: {response.text}",
                        f"Please supply it by {_deadline_text(self)}. {self.payer.name}'s clock is paused meanwhile.",
                    ],
                )
            )
        elif action == OfficerAction.SUPPLY_INFO:
            question = self.open_question or ""
            self.status = self.status_before_question or ClaimStatus.ACKNOWLEDGED
            if self.paused_wait is not None:
                self.resume_payer_clock(self.paused_wait, now)
            else:
                self.wait_for("decision", Role.PAYER, self.policy.response_days, now)
            self.paused_wait = None
            self.open_question = None
            message = f"Information sent; {self.payer.name}'s clock runs again until {_deadline_text(self)}."
            effects.append(
                self.email_payer(
                    "information_supplied",
                    "The information you asked for",
                    [
                        f"You asked: {question}",
                        f"The LMC answers: {response.text}",
                        f"Please respond by {_deadline_text(self)}.",
                    ],
                )
            )
        elif action == OfficerAction.ACCEPT_OFFER:
            self.agreed_pence = self.offered_pence
            message = self._expect_payment(response, now, date_given=False)
            effects.append(
                self.email_payer(
                    "offer_accepted",
                    "Counter-offer accepted",
                    [
                        f"The LMC accepts your offer of {format_pence(self.agreed_pence or 0)}.",
                        f"Payment is expected by {self.payment_due:%-d %B %Y}." if self.payment_due else "",
                    ],
                )
            )
        elif action == OfficerAction.DISPUTE:
            self.status = ClaimStatus.DISPUTED
            self.last_reasons = response.reasons
            if self.ladder.level < 3:
                self.ladder.level += 1
            self.wait_for("decision", Role.PAYER, self.policy.response_days, now)
            message = f"Disputed; escalated to {self.payer_contact.title}, response due {_deadline_text(self)}."
            effects.append(
                self.email_payer(
                    "disputed",
                    "The LMC disputes the response to its claim",
                    [
                        f"The LMC disputes the response to its claim of {format_pence(self.claimed_pence)}: "
                        f"{response.reasons}",
                        f"Please respond by {_deadline_text(self)}.",
                    ],
                )
            )
        elif action == OfficerAction.CONFIRM_PAYMENT:
            self.paid_pence = response.amount_pence if response.amount_pence is not None else self.agreed_pence
            self.close(Outcome.PAID)
            message = f"Payment of {format_pence(self.paid_pence or 0)} confirmed; the claim is closed."
            effects.append(
                self.email_payer(
                    "paid",
                    "Payment received: claim closed",
                    [
                        f"The LMC confirms receipt of {format_pence(self.paid_pence or 0)}. "
                        "Thank you; the claim is closed.",
                    ],
                )
            )
        elif action == OfficerAction.WITHDRAW:
            self.last_reasons = response.reasons
            self.close(Outcome.WITHDRAWN)
            message = "The claim is withdrawn and closed."
            effects.append(
                self.email_payer(
                    "withdrawn",
                    "Claim withdrawn",
                    [
                        f"The LMC has withdrawn this claim: {response.reasons}",
                    ],
                )
            )
        else:  # pragma: no cover - check() admits only the actions above
            raise ResponseRefused(f"unknown action {action}")
        effects.insert(0, audit)
        if self.is_closed:
            effects.append(AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome}))
        return ResponseOutcome(status=self.status, message=message), effects

    def _expect_payment(self, response: ResponseInput, now: datetime, date_given: bool = True) -> str:
        self.status = ClaimStatus.PAYMENT_EXPECTED
        if date_given and response.on_date is not None:
            self.payment_due = at_close_of_day(response.on_date)
        else:
            self.payment_due = self.default_payment_date(now)
        self.wait_until_date("payment", Role.PAYER, self.payment_due)
        return f"Payment of {format_pence(self.agreed_pence or 0)} expected by {self.payment_due:%-d %B %Y}."


def _require_fields(response: ResponseInput, case: ClaimCase) -> None:
    action = response.action
    if (
        action in (PayerAction.REJECT, OfficerAction.DISPUTE, OfficerAction.WITHDRAW, PayerAction.ACCEPT_PART)
        and not (response.reasons or "").strip()
    ):
        raise ResponseRefused("reasons: give your reasons for this response.")
    if action in (PayerAction.REQUEST_INFO, OfficerAction.SUPPLY_INFO) and not (response.text or "").strip():
        raise ResponseRefused("text: say what information is asked for or supplied.")
    if action == PayerAction.ACCEPT_PART:
        if response.amount_pence is None or response.amount_pence <= 0:
            raise ResponseRefused("amount_pence: a counter-offer needs an amount in pence above zero.")
        if response.amount_pence >= case.claimed_pence:
            raise ResponseRefused(
                f"amount_pence: a counter-offer must be less than the {format_pence(case.claimed_pence)} "
                "claimed; use 'accept' to accept in full."
            )
    if action == PayerAction.COMMISSION and response.on_date is None:
        raise ResponseRefused("on_date: give the date from which the work is commissioned.")


def _deadline_text(case: EscalationCase) -> str:
    if case.wait is None or case.wait.deadline is None:
        return "no deadline"
    return describe_deadline(case.wait.deadline)
