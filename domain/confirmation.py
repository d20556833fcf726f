"""Asking a payer to confirm one thing (a message sent, a year-end mechanism, a report, a
pot), chased by the shared deadline and ladder until they confirm, refuse, or the officer
closes it. The pathology and deregistration kinds run several of these at once.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from domain import wording
from domain.contacts import Contact, Lmc, Organisation, Role
from domain.escalation import CURRENT_RULES, AuditEffect, DeadlinePolicy, Effect, EscalationCase, ResponseRefused
from domain.money import format_pence
from domain.negotiation import response_detail
from domain.responses import FieldSpec, ResponseInput, ResponseOutcome
from domain.working_days import at_close_of_day, describe_deadline

KIND = "confirmation"
CONFIRM = "confirm"
REFUSE = "refuse"
WITHDRAW = "withdraw"
LABELS = {
    CONFIRM: "Confirm, with the details asked for",
    REFUSE: "Refuse, with reasons",
    WITHDRAW: "Close this request, with reasons",
}


class ConfirmationRequest(BaseModel):
    topic: str = Field(pattern=r"^[a-z_]+$")
    title: str
    ask: list[str]
    reference_label: str | None = None  # e.g. "Report reference or URL"; None: no reference asked
    amount_label: str | None = None  # e.g. "Pot for redistribution (£)"
    date_label: str | None = None  # e.g. "Payment date"
    may_refuse: bool = False
    refuse_label: str | None = None  # e.g. "Refuse to pay, with reasons"; None: LABELS[REFUSE]
    deadline_days: int | None = Field(default=None, ge=1)
    deadline_date: date | None = None
    facts: list[tuple[str, str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_deadline(self) -> ConfirmationRequest:
        if (self.deadline_days is None) == (self.deadline_date is None):
            raise ValueError("give deadline_days or deadline_date")
        return self


class ConfirmationCase(EscalationCase):
    request: ConfirmationRequest
    reference: str | None = None
    amount_pence: int | None = None
    on_date: date | None = None
    reasons: str | None = None

    @classmethod
    def open(
        cls,
        escalation_id: str,
        request: ConfirmationRequest,
        lmc: Lmc,
        officer: Contact,
        payer: Organisation,
        policy: DeadlinePolicy,
        now: datetime,
        rules: int = CURRENT_RULES,
    ) -> tuple[ConfirmationCase, list[Effect]]:
        case = cls(
            escalation_id=escalation_id,
            kind=KIND,
            title=request.title,
            lmc=lmc,
            officer=officer,
            payer=payer,
            policy=policy,
            status="awaiting",
            request=request,
            rules=rules,
            as_of=now,
        )
        if request.deadline_date is not None:
            case.wait_until_date(request.topic, Role.PAYER, at_close_of_day(request.deadline_date))
        else:
            case.wait_for(request.topic, Role.PAYER, request.deadline_days or 1, now)
        deadline = describe_deadline(case.wait.deadline) if case.wait and case.wait.deadline else "soon"
        return case, [
            AuditEffect(event="requested", actor=officer.email, detail={"topic": request.topic, "payer": payer.code}),
            case.email_payer(request.topic, request.title, [*request.ask, f"Please respond by {deadline}."]),
        ]

    def action_labels(self) -> dict[str, str]:
        return {**LABELS, REFUSE: self.request.refuse_label or LABELS[REFUSE]}

    def action_fields(self) -> dict[str, list[FieldSpec]]:
        r = self.request
        confirm = []
        if r.reference_label:
            confirm.append(FieldSpec("text", r.reference_label, "text", True))
        if r.amount_label:
            confirm.append(FieldSpec("amount", r.amount_label, "money", True))
        if r.date_label:
            confirm.append(FieldSpec("on_date", r.date_label, "date", True))
        return {
            CONFIRM: confirm,
            REFUSE: [FieldSpec("reasons", "Reasons", "text", True)],
            WITHDRAW: [FieldSpec("reasons", "Reasons", "text", True)],
        }

    def payer_actions(self) -> list[str]:
        return [CONFIRM, *([REFUSE] if self.request.may_refuse else [])]

    def officer_actions(self) -> list[str]:
        return [WITHDRAW]

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Request", self.title),
            *self.request.facts,
            ("Asked of", self.payer.name),
            ("Status", wording.status(self.status)),
        ]
        if self.reference:
            facts.append(("Confirmed with", self.reference))
        if self.amount_pence is not None:
            facts.append(("Amount", format_pence(self.amount_pence)))
        if self.on_date is not None:
            facts.append(("Date", f"{self.on_date:%-d %B %Y}"))
        return facts

    def check(self, response: ResponseInput, now: datetime | None = None) -> None:
        self.check_actor(response)
        for spec in self.action_fields().get(response.action, []):
            value = {
                "text": response.text,
                "amount": response.amount_pence,
                "on_date": response.on_date,
                "reasons": response.reasons,
            }[spec.name]
            if spec.required and (value is None or (isinstance(value, str) and not value.strip())):
                raise ResponseRefused(f"{spec.name}: {spec.label} is required.")
        if self.money_and_dates and response.action == CONFIRM:
            request = self.request
            if request.amount_label and response.amount_pence is not None and response.amount_pence <= 0:
                no = (
                    f"; if no money will be paid, use '{self.action_labels()[REFUSE]}'"
                    if REFUSE in self.payer_actions()
                    else ""
                )
                raise ResponseRefused(f"amount: {request.amount_label} must be more than £0.00{no}.")
            if request.date_label and response.on_date is not None:
                self.require_working_day("on_date", f"the {request.date_label.lower()}", response.on_date, now)

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        self.check(response, now)
        self.as_of = now
        audit = self.record_response(response.action, response.actor_email, response_detail(self.status, response))
        if response.action == CONFIRM:
            self.reference, self.amount_pence, self.on_date = response.text, response.amount_pence, response.on_date
            self.close("confirmed")
            message = "Confirmation recorded. Thank you."
            notice = self.email_officer(
                f"{self.request.topic}-confirmed",
                f"Confirmed: {self.title}",
                [
                    f"{response.actor_email} confirmed.",
                    *(f"{k}: {v}" for k, v in self.facts()[-3:]),
                ],
            )
        elif response.action == REFUSE:
            self.reasons = response.reasons
            self.close("refused")
            message = "Refusal recorded; the LMC has been told."
            notice = self.email_officer(
                f"{self.request.topic}-refused",
                f"Refused: {self.title}",
                [
                    f"{response.actor_email} refused: {response.reasons}",
                ],
            )
        else:
            self.reasons = response.reasons
            self.close("withdrawn")
            message = "Request closed."
            notice = self.email_payer(
                f"{self.request.topic}-withdrawn",
                f"No longer needed: {self.title}",
                [
                    f"The LMC has closed this request: {response.reasons}",
                ],
            )
        closed = AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome})
        return ResponseOutcome(status=self.outcome or self.status, message=message), [audit, notice, closed]
