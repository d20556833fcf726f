"""The unfunded work claim: work moved onto practices without funding, claimed line by
line against a tariff, pursued from submission to payment (DOMAIN.md, kind 1).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from domain import formatting, payment, wording
from domain.calendar import LEGACY_CALENDAR, WorkingCalendar
from domain.configuration import TariffRate
from domain.contacts import Contact, Lmc, Organisation, Role
from domain.escalation import CURRENT_RULES, AuditEffect, DeadlinePolicy, Effect, ResponseRefused
from domain.identifiers import FreeText, HeaderText, OdsCode, SafeEmail, has_visible_text, named_twice
from domain.money import Pence, RatePence, beyond_reason, format_pence
from domain.negotiation import FIELDS, LABELS, NegotiationCase, Status
from domain.report import ReportLine, spread
from domain.responses import FieldSpec, ResponseInput
from domain.tables import Table
from domain.validation import not_before
from domain.working_days import at_close_of_day

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
    Category.OTHER: ("", None),  # none named: the line's description says what the work is
}
CONTRACT_YEAR = "2017/19"


def duty_words(category: Category) -> str:
    """The contract duty a line of `category` says was breached, with its clause and the contract's edition; work
    of the kind 'other' names none."""
    duty, clause = CONTRACT_DUTIES[category]
    if not duty:
        return "no contract duty named: see the work described"
    return f"{clause} ({CONTRACT_YEAR}): {duty}" if clause else f"{duty} ({CONTRACT_YEAR})"


CATEGORY_WORDS: dict[Category, str] = {
    Category.ONWARD_REFERRAL: "Onward referrals sent back to the practice",
    Category.DNA_REREFERRAL: "Re-referrals after a missed appointment",
    Category.DISCHARGE_SUMMARY: "Late discharge summaries",
    Category.CLINIC_LETTER: "Late clinic letters",
    Category.DISCHARGE_MEDICATION: "Discharge medication supply",
    Category.OUTPATIENT_MEDICATION: "Outpatient medication",
    Category.FIT_NOTE: "Fit notes",
    Category.SHARED_CARE: "Prescribing moved without a shared care agreement",
    Category.TEST_RESULTS: "Test results left to the practice",
    Category.OTHER: "Other work",
}


class ClaimLine(BaseModel):
    category: Category
    description: FreeText = Field(default="", max_length=500)
    count: StrictInt = Field(ge=1)
    unit_rate_pence: Pence
    evidence_refs: list[HeaderText] = Field(default_factory=list, max_length=500)
    rate_is_example: bool = False

    @model_validator(mode="after")
    def _other_needs_description(self) -> ClaimLine:
        if self.category is Category.OTHER and not self.description.strip():
            raise ValueError("description: is required for work of the kind 'other' (say what the work is)")
        return self

    @property
    def amount_pence(self) -> int:
        return self.count * self.unit_rate_pence


class ClaimRequest(BaseModel):
    """What an officer submits (the JSON file behind `starter.py start-claim`)."""

    title: HeaderText = Field(min_length=3, max_length=200)
    payer_code: str = Field(min_length=2, max_length=12)
    officer_email: SafeEmail
    provider: HeaderText = Field(min_length=2, max_length=200)
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


MOST_LINES = 100
"""Lines a claim may have: a claim is read and decided line by line, and it is carried in its workflow's input
and every answer about it, which Temporal holds to 2 MB (a claim of thousands of lines had started, then could
never be shown, answered or withdrawn)."""
MOST_ITEMS = 1_000_000
"""Items of work one line may count: far past any quarter's work at every practice of an ICB, so a count past it
is a slip (digits repeated, pence typed for a count)."""
MOST_REFERENCES = 50


class ClaimLineSubmission(ClaimLine):
    """A claim line as an officer submits it: what `ClaimLine` takes, within reason, and nothing else."""

    model_config = ConfigDict(extra="forbid")
    count: StrictInt = Field(ge=1, le=MOST_ITEMS)
    unit_rate_pence: RatePence
    evidence_refs: list[Annotated[HeaderText, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MOST_REFERENCES
    )


class ClaimSubmission(ClaimRequest):
    """A claim as an officer submits it (a start file, the start form): the gate's rules beyond what a claim
    already recorded must satisfy, so tightening them never stops a running claim's input from loading. A
    misspelt field is refused rather than dropped; a practice is named once; a title shows something; the
    total is within reason."""

    model_config = ConfigDict(extra="forbid")
    lines: list[ClaimLineSubmission] = Field(min_length=1, max_length=MOST_LINES)  # type: ignore[assignment]  # narrowed: each line as submitted

    @field_validator("title", "provider")
    @classmethod
    def _shows_something(cls, text: str) -> str:
        if not has_visible_text(text):
            raise ValueError("is blank")
        return text.strip()

    _ends_after_it_starts = field_validator("period_end")(
        not_before("period_start", "the period ends before it starts")
    )

    @field_validator("practices")
    @classmethod
    def _each_practice_once(cls, codes: list[str]) -> list[str]:
        if (problem := named_twice(codes)) is not None:
            raise ValueError(problem)
        return codes

    @field_validator("lines")
    @classmethod
    def _total_within_reason(cls, lines: list[ClaimLineSubmission]) -> list[ClaimLineSubmission]:
        if problem := beyond_reason(sum(line.amount_pence for line in lines)):
            raise ValueError(f"add up to {problem}")
        return lines

    def as_request(self) -> ClaimRequest:
        return ClaimRequest.model_validate(self.model_dump())


def priced_claim(data: dict[str, Any], tariff: dict[str, TariffRate]) -> ClaimRequest:
    return ClaimRequest.model_validate(price_lines(data, tariff))


def price_lines(data: dict[str, Any], tariff: dict[str, TariffRate]) -> dict[str, Any]:
    """A claim's JSON form with each line without its own `unit_rate_pence` priced from the
    LMC's tariff (and marked as an example rate where the tariff says so)."""
    lines = data.get("lines")
    if isinstance(lines, list):
        priced = []
        for line in lines:
            if isinstance(line, dict) and "unit_rate_pence" not in line:
                rate = tariff.get(str(line.get("category")))
                if rate is not None:
                    line = {**line, "unit_rate_pence": rate.unit_rate_pence, "rate_is_example": rate.example}
                else:  # unpriced: refused as such once the line is read (not "rate: is required" beside a typo)
                    line = {**line, "unit_rate_pence": 0}
            priced.append(line)
        data = {**data, "lines": priced}
    return data


class ClaimStatus(StrEnum):
    """The negotiation's states, and the claim's own: waiting for payment."""

    SUBMITTED = Status.SUBMITTED.value
    ACKNOWLEDGED = Status.ACKNOWLEDGED.value
    INFORMATION_REQUESTED = Status.INFORMATION_REQUESTED.value
    COUNTER_OFFERED = Status.COUNTER_OFFERED.value
    REJECTED = Status.REJECTED.value
    DISPUTED = Status.DISPUTED.value
    PAYMENT_EXPECTED = "payment_expected"
    UNDERPAID = payment.UNDERPAID  # a payment other than the agreed amount: the officer decides
    OVERPAID = payment.OVERPAID
    CLOSED = Status.CLOSED.value


class Outcome(StrEnum):
    PAID = payment.PAID
    PAID_SHORT = payment.PAID_SHORT  # the officer accepted less than was agreed
    PAID_OVER = payment.PAID_OVER  # the officer accepted more than was agreed
    COMMISSIONED = "commissioned"
    WITHDRAWN = "withdrawn"


COMMISSION = "commission"
CONFIRM_PAYMENT = "confirm_payment"

ACTION_LABELS: dict[str, str] = {
    **LABELS,
    COMMISSION: "Commission the work going forward",
    CONFIRM_PAYMENT: "Confirm payment received",
    **payment.LABELS,
    "withdraw": "Withdraw the claim",
}
ACTION_FIELDS: dict[str, list[FieldSpec]] = {
    **FIELDS,
    COMMISSION: [
        FieldSpec("on_date", "Commissioned from", "date", True),
        FieldSpec("amount", "Back-payment (£, optional)", "money"),
        FieldSpec("reasons", "Details of the service", "text"),
    ],
    CONFIRM_PAYMENT: [FieldSpec("amount", "Amount received (£, optional)", "money")],
    **payment.FIELDS,
}


class ClaimCase(NegotiationCase):
    """The unfunded claim: the shared negotiation, plus commissioning and payment."""

    claim: ClaimRequest
    paid_pence: int | None = None  # under the money-and-dates rules, everything received so far
    payment_due: datetime | None = None
    commissioned_from: date | None = None
    difference_reasons: str | None = None  # why the officer accepted a payment other than the agreed one

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
        rules: int = CURRENT_RULES,
        calendar: WorkingCalendar = LEGACY_CALENDAR,
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
            rules=rules,
            calendar=calendar,
            as_of=now,
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
                    f"{formatting.counted(len(claim.practices), 'practice')} for work moved onto general practice without funding "
                    f"by {claim.provider}.",
                    *([claim.summary] if claim.summary else []),
                    f"Please acknowledge receipt by {case.deadline_text()}, using the link below.",
                ],
            ),
        ]
        return case, effects

    def parties(self) -> set[str]:
        return {*super().parties(), *self.claim.practices}

    def all_labels(self) -> dict[str, str]:
        return ACTION_LABELS

    def all_fields(self) -> dict[str, list[FieldSpec]]:
        return ACTION_FIELDS

    def decision_actions(self) -> list[str]:
        decisions = super().decision_actions()
        return [*decisions[:2], COMMISSION, *decisions[2:]]

    def extra_officer_actions(self) -> list[str]:
        if self.status == ClaimStatus.PAYMENT_EXPECTED:
            return [CONFIRM_PAYMENT]
        return payment.resolving_actions(self.status)

    def payment_gap(self) -> int | None:
        return payment.gap(self.paid_pence, self.agreed_pence)

    def outstanding_pence(self) -> int:
        return payment.outstanding(self.paid_pence, self.agreed_pence)

    def report_lines(self) -> list[ReportLine]:
        claim = self.claim
        return spread(
            KIND,
            claim.provider,
            (claim.period_start, claim.period_end),
            [(line.category.value, line.count, line.amount_pence) for line in claim.lines],
            self.agreed_pence or 0,
            self.paid_pence or 0,
        )

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Claim", self.title),
            ("Provider responsible", self.claim.provider),
            ("Payer", self.payer.name),
            ("Practices", ", ".join(self.claim.practices)),
            ("Period", f"{self.claim.period_start:%-d %B %Y} to {self.claim.period_end:%-d %B %Y}"),
            *self.money_facts(),
        ]
        if self.agreed_pence is not None:
            facts += payment.gap_facts(self.agreed_pence, self.paid_pence)
        if self.difference_reasons:
            facts.append(("Difference accepted", self.difference_reasons))
        if self.payment_due is not None:
            facts.append(("Payment expected by", f"{self.payment_due:%-d %B %Y}"))
        return facts

    def tables(self) -> list[Table]:
        """Each claim line as the ICB needs it to decide: the work, the contract duty breached, count,
        rate, amount and the evidence, with the total."""
        rows = []
        for line in self.claim.lines[:MOST_LINES]:  # a claim recorded before the gate held it to these: the rest
            # (the rest are counted, so one task's formatting stays bounded)
            what = CATEGORY_WORDS[line.category] + (f": {line.description}" if line.description else "")
            rows.append(
                [
                    what,
                    duty_words(line.category),
                    formatting.count(line.count),
                    formatting.money(line.unit_rate_pence) + (" (example rate)" if line.rate_is_example else ""),
                    formatting.money(line.amount_pence),
                    ", ".join(line.evidence_refs) or "none given",
                ]
            )
        if len(self.claim.lines) > MOST_LINES:
            more = len(self.claim.lines) - MOST_LINES
            rows.append(["…", f"{formatting.count(more)} more lines, in the total below", "", "", "", ""])
        return [
            Table(
                caption="The claim, line by line",
                columns=["Work", "NHS Standard Contract duty", "Count", "Unit rate", "Amount", "Evidence"],
                rows=rows,
                total=[
                    "Total",
                    "",
                    formatting.count(sum(line.count for line in self.claim.lines)),
                    "",
                    formatting.money(self.claimed_pence),
                    "",
                ],
                numeric=[2, 3, 4],
            )
        ]

    def require_extra(self, response: ResponseInput) -> None:
        if response.action == COMMISSION and response.on_date is None:
            raise ResponseRefused("on_date: give the date from which the work is commissioned.")
        payment.check_resolution(response)

    def require_extra_values(self, response: ResponseInput, now: datetime | None) -> None:
        if response.action == COMMISSION and response.amount_pence is not None and response.amount_pence <= 0:
            raise ResponseRefused(
                "amount_pence: a back-payment must be more than £0.00; leave it out if there is none."
            )
        if response.action == CONFIRM_PAYMENT:
            payment.check_received(response, self.outstanding_pence())
        if response.action == payment.CHASE_BALANCE and response.on_date is not None:
            self.require_working_day("on_date", "the date the rest is to be paid by", response.on_date, now)

    def on_agreed(self, response: ResponseInput, now: datetime) -> str:
        if self.money_and_dates:
            return self._expect_payment(self.agreed_payment_due(response, now))
        date_given = response.action != "accept_offer"
        return self._expect_payment_legacy(response, now, date_given)

    def apply_extra(self, response: ResponseInput, now: datetime) -> tuple[str, list[Effect]]:
        who = response.actor_email
        if response.action == COMMISSION:
            self.commissioned_from = response.on_date
            since = formatting.short_day(response.on_date) if response.on_date else "the date given"
            self.last_reasons = response.reasons
            back = response.amount_pence or 0
            if back:
                self.agreed_pence = back
                if self.money_and_dates:
                    message = self._expect_payment(self.default_payment_date(now))
                else:
                    message = self._expect_payment_legacy(response, now, date_given=False)
                message = f"Commissioned from {since}, with back-payment of {format_pence(back)}. {message}"
            else:
                self.close(Outcome.COMMISSIONED)
                message = f"Commissioned from {since}, without back-payment. The claim is closed."
            return message, [self.email_officer("commissioned", "Work to be commissioned", [f"{who}: {message}"])]
        if response.action == CONFIRM_PAYMENT and self.money_and_dates:
            return self._payment_received(response, now)
        if response.action == payment.CHASE_BALANCE:
            return self._chase_balance(response, now)
        if response.action in (payment.ACCEPT_SHORTFALL, payment.ACCEPT_OVERPAYMENT):
            return self._accept_difference(response)
        if response.action == CONFIRM_PAYMENT:
            self.paid_pence = response.amount_pence if response.amount_pence is not None else self.agreed_pence
            self.close(Outcome.PAID)
            paid = format_pence(self.paid_pence or 0)
            message = f"Payment of {paid} confirmed; the claim is closed."
            return message, [
                self.email_payer(
                    "paid",
                    "Payment received: claim closed",
                    [f"The LMC confirms receipt of {paid}. Thank you; the claim is closed."],
                )
            ]
        return super().apply_extra(response, now)

    def _payment_received(self, response: ResponseInput, now: datetime) -> tuple[str, list[Effect]]:
        """Paid against agreed: in full closes the claim; any other amount keeps it open for the officer."""
        agreed = self.agreed_pence or 0
        received = response.amount_pence if response.amount_pence is not None else self.outstanding_pence()
        self.paid_pence = (self.paid_pence or 0) + received
        gap = self.paid_pence - agreed
        status = payment.gap_status(gap)
        if status is None:
            self.close(Outcome.PAID)
            paid = format_pence(self.paid_pence)
            return f"Payment of {paid} confirmed; the claim is closed.", [
                self.email_payer(
                    "paid",
                    "Payment received: claim closed",
                    [f"The LMC confirms receipt of {paid}. Thank you; the claim is closed."],
                )
            ]
        self.status = status
        self.payment_due = None
        self.wait_for("payment_decision", Role.OFFICER, self.policy.officer_reply_days, now)
        gap_text = payment.describe_gap(agreed, self.paid_pence)
        choice = payment.next_step(gap)
        message = (
            f"{format_pence(received)} recorded; {gap_text}. The claim stays open until the LMC decides: "
            f"{choice}, by {self.deadline_text()}."
        )
        return message, [
            AuditEffect(
                event=status,
                actor=response.actor_email,
                detail={"agreed_pence": agreed, "paid_pence": self.paid_pence, "gap_pence": gap},
            ),
            self.email_officer(
                status,
                f"Payment {'short' if gap < 0 else 'over'}: {gap_text}",
                [
                    f"Payment from {self.payer.name} recorded: {gap_text}.",
                    f"The claim stays open: please {choice} by {self.deadline_text()}.",
                ],
            ),
        ]

    def _chase_balance(self, response: ResponseInput, now: datetime) -> tuple[str, list[Effect]]:
        due = self.payment_date(response.on_date, now)
        rest = format_pence(self.outstanding_pence())
        self.status = ClaimStatus.PAYMENT_EXPECTED
        self.payment_due = due
        self.wait_until_date("payment", Role.PAYER, due)
        message = f"Chasing the rest: {rest} from {self.payer.name}, expected by {due:%-d %B %Y}."
        return message, [
            self.email_payer(
                "balance_chased",
                f"The rest of the payment: {rest} outstanding",
                [
                    f"The LMC has received {format_pence(self.paid_pence or 0)} of the "
                    f"{format_pence(self.agreed_pence or 0)} agreed.",
                    f"Please pay the remaining {rest} by {self.deadline_text()}.",
                ],
            )
        ]

    def _accept_difference(self, response: ResponseInput) -> tuple[str, list[Effect]]:
        gap = self.payment_gap() or 0
        self.difference_reasons = response.reasons
        self.close(Outcome.PAID_SHORT if gap < 0 else Outcome.PAID_OVER)
        accepted = payment.describe_gap(self.agreed_pence or 0, self.paid_pence or 0)
        message = f"Accepted: {accepted}. The claim is closed ({wording.outcome(self.outcome or '')})."
        return message, [
            self.email_payer(
                "difference_accepted",
                "Payment accepted: claim closed",
                [f"The LMC accepts the payment as made ({accepted}): {response.reasons}", "The claim is closed."],
            )
        ]

    def _expect_payment(self, due: datetime) -> str:
        self.status = ClaimStatus.PAYMENT_EXPECTED
        self.payment_due = due
        self.wait_until_date("payment", Role.PAYER, self.payment_due)
        return f"Payment of {format_pence(self.agreed_pence or 0)} expected by {self.payment_due:%-d %B %Y}."

    def _expect_payment_legacy(self, response: ResponseInput, now: datetime, date_given: bool = True) -> str:
        """Before the money-and-dates rules: a counter-offer's payment date was not carried."""
        self.status = ClaimStatus.PAYMENT_EXPECTED
        if date_given and response.on_date is not None:
            self.payment_due = at_close_of_day(response.on_date)
        else:
            self.payment_due = self.default_payment_date(now)
        self.wait_until_date("payment", Role.PAYER, self.payment_due)
        return f"Payment of {format_pence(self.agreed_pence or 0)} expected by {self.payment_due:%-d %B %Y}."
