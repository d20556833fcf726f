"""Asking a payer to confirm one thing (a message sent, a year-end mechanism, a report, a
pot), chased by the shared deadline and ladder until they confirm, refuse, or the officer
closes it. The pathology and deregistration kinds run several of these at once.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from domain import formatting, wording
from domain.calendar import LEGACY_CALENDAR, WorkingCalendar
from domain.contacts import Contact, Lmc, Organisation, Role
from domain.escalation import (
    CURRENT_RULES,
    TOP_LEVEL,
    AuditEffect,
    DeadlinePolicy,
    Effect,
    EscalationCase,
    ResponseRefused,
    Wait,
)
from domain.money import format_pence, share_of
from domain.negotiation import response_detail
from domain.responses import FieldSpec, ResponseInput, ResponseOutcome
from domain.working_days import at_close_of_day, describe_deadline

KIND = "confirmation"
CONFIRM = "confirm"
REFUSE = "refuse"
WITHDRAW = "withdraw"
# The officer's next steps after a refusal (issue #14), for requests that ask for them (`refusal_answered`).
DISPUTE = "dispute"
SUPPLY_INFO = "supply_info"
ACCEPT_REFUSAL = "accept_refusal"
REFUSED = "refused"
NEXT_STEPS = {
    DISPUTE: "Dispute the refusal (goes to a more senior contact)",
    SUPPLY_INFO: "Reply with more information and ask again",
    ACCEPT_REFUSAL: "Accept the refusal and close this request",
}
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
    expected_pence: int | None = None
    """What the amount asked for is set against (a pot against the practices' loss in all), so a confirmation of
    less is told to the officer as a shortfall; None where there is no such sum (requests made before it)."""
    # A refusal waits for the officer's next step (dispute, reply, accept, close) instead of closing the
    # request. Requests made before issue #14 lack it, so their recorded runs replay as they ran.
    refusal_answered: bool = False

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

    def counts_working_days(self, wait: Wait) -> bool:
        """A wait recorded before waits said which, for a date the request gave, is that date."""
        if wait.in_working_days is None and wait.misses == 0 and self.request.deadline_date is not None:
            return False
        return super().counts_working_days(wait)

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
        calendar: WorkingCalendar = LEGACY_CALENDAR,
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
            calendar=calendar,
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
        return {**LABELS, **NEXT_STEPS, REFUSE: self.request.refuse_label or LABELS[REFUSE]}

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
            DISPUTE: [FieldSpec("reasons", "Why the LMC disputes the refusal", "text", True)],
            SUPPLY_INFO: [FieldSpec("text", "The information or argument for the payer", "text", True)],
            ACCEPT_REFUSAL: [FieldSpec("reasons", "Why the LMC accepts the refusal", "text")],
        }

    def payer_actions(self) -> list[str]:
        return [CONFIRM, *([REFUSE] if self.request.may_refuse else [])]

    def officer_actions(self) -> list[str]:
        if self.status == REFUSED:
            return [DISPUTE, SUPPLY_INFO, ACCEPT_REFUSAL, WITHDRAW]
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

    def _short_of_expected(self) -> list[str]:
        """A confirmed amount below the sum it is set against, said to the officer with the gap."""
        expected, confirmed = self.request.expected_pence, self.amount_pence
        if expected is None or confirmed is None or confirmed >= expected:
            return []
        return [
            f"That is {format_pence(expected - confirmed)} less than the {format_pence(expected)} asked for: "
            f"each practice is paid {share_of(confirmed, expected)} of its loss. To take it up with "
            f"{self.payer.name}, reply to them; the practices are being told their shares."
        ]

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
                raise ResponseRefused(f"{spec.name}: is required.")  # the box's label is beside it
        if self.money_and_dates and response.action == CONFIRM:
            request = self.request
            if request.amount_label and response.amount_pence is not None and response.amount_pence <= 0:
                no = (
                    f"; if no money will be paid, use '{self.action_labels()[REFUSE]}'"
                    if REFUSE in self.payer_actions()
                    else ""
                )
                raise ResponseRefused(f"amount: must be more than £0.00{no}.")  # the box's label is beside it
            if request.date_label and response.on_date is not None:
                self.require_working_day("on_date", f"the {request.date_label.lower()}", response.on_date, now)

    def check_as_sent(self, response: ResponseInput) -> None:
        """A reference confirmed must be one someone could look up: 'x' had been taken as an incident report's."""
        said = (response.text or "").strip()
        if response.action == CONFIRM and self.request.reference_label and said and len(said) < 3:
            raise ResponseRefused(f"text: '{said}' is too short to tell anyone anything; write it out in full.")

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
                [f"{response.actor_email} confirmed: the details are below.", *self._short_of_expected()],
            )
        elif response.action == REFUSE and self.request.refusal_answered:
            return self._refused(response, now, audit)
        elif response.action in NEXT_STEPS:
            return self._next_step(response, now, audit)
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

    # --- after a refusal: the officer's next step (requests with `refusal_answered`) -----------------
    def _refused(
        self, response: ResponseInput, now: datetime, audit: AuditEffect
    ) -> tuple[ResponseOutcome, list[Effect]]:
        """The payer refused: the request stays open and waits for the officer's next step."""
        self.reasons = response.reasons
        self.status = REFUSED
        self.wait_for("officer_reply", Role.OFFICER, self.policy.officer_reply_days, now)
        steps = formatting.listing([f"\u201c{label}\u201d" for label in NEXT_STEPS.values()], "or")
        notice = self.email_officer(
            f"{self.request.topic}-refused",
            f"Refused: {self.title}; your next step by {describe_deadline(self.wait.deadline) if self.wait and self.wait.deadline else 'soon'}",
            [
                f"{response.actor_email} of {self.payer.name} refused: {response.reasons}",
                f"The request stays open. Your next step, through the link below: {steps}; "
                f"or \u201c{LABELS[WITHDRAW]}\u201d.",
            ],
        )
        message = "Refusal recorded; the LMC has been told and will reply."
        return ResponseOutcome(status=self.status, message=message), [audit, notice]

    def _next_step(
        self, response: ResponseInput, now: datetime, audit: AuditEffect
    ) -> tuple[ResponseOutcome, list[Effect]]:
        refusal = self.reasons or "no reasons given"
        if response.action == ACCEPT_REFUSAL:
            self.close("refused")
            closed = AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome})
            why = f" The LMC's reasons: {response.reasons}" if response.reasons else ""
            notice = self.email_payer(
                f"{self.request.topic}-refusal-accepted",
                f"Refusal accepted: {self.title}",
                [f"The LMC accepts your refusal ({refusal}) and has closed this request.{why}"],
            )
            return ResponseOutcome(status="refused", message="Refusal accepted; the request is closed."), [
                audit,
                notice,
                closed,
            ]
        days = self.request.deadline_days or self.policy.response_days
        if response.action == DISPUTE and self.ladder.level < TOP_LEVEL:
            self.ladder.level += 1
            self.ladder.on_liaison_agenda = self.ladder.on_liaison_agenda or self.ladder.level == TOP_LEVEL
        self.status = "awaiting"
        self.wait_for(self.request.topic, Role.PAYER, days, now)
        due = describe_deadline(self.wait.deadline) if self.wait and self.wait.deadline else "soon"
        asked = formatting.listing(self.request.ask[-1:]) if self.request.ask else ""
        if response.action == DISPUTE:
            headline = f"Refusal disputed: {self.title}"
            paragraphs = [
                f"{self.lmc.name} asked {self.payer.name}: {asked} {self.payer.name} refused: {refusal}",
                f"The LMC disputes the refusal: {response.reasons}",
                f"We now ask you, as {self.payer_contact.title}, to respond by {due}, using the link below.",
            ]
            message = f"Dispute sent to {self.payer_contact.name}, {self.payer_contact.title}."
        else:
            headline = f"The LMC has replied to your refusal: {self.title}"
            paragraphs = [
                f"You refused: {refusal}",
                f"The LMC replies: {response.text}",
                f"Please confirm, or refuse with your reasons, by {due}, using the link below.",
            ]
            message = "Reply sent; the payer's deadline runs again."
        return ResponseOutcome(status=self.status, message=message), [
            audit,
            self.email_payer(f"{self.request.topic}-{response.action}", headline, paragraphs),
        ]
