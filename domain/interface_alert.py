"""Interface alerts: a practice reports one piece of work a provider moved onto it without funding
(a clinic letter that asks the GP to refer onward, a discharge without medication), the provider's
primary care liaison answers it, and a pattern of alerts becomes the evidence for an unfunded work claim
(DOMAIN.md kind 1; Kent LMC's analysis of practice letters by category; ICBs' GP alert forms).

Routine alerts reach the provider in one digest per provider per working day, sent at the close of the
working day they were reported on; urgent ones go at once. The answer is due a number of working days
after the alert reaches the provider (5 routine, 1 urgent by default; `[deadlines.interface_alert]`
`response_days` and `acknowledgement_days`), with the reminder-then-ladder every kind has.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, StrictInt

from domain.calendar import LEGACY_CALENDAR, WorkingCalendar
from domain.contacts import Contact, Lmc, Organisation, Role
from domain.escalation import (
    CURRENT_RULES,
    AuditEffect,
    Command,
    DeadlinePolicy,
    Effect,
    EscalationCase,
    ResponseRefused,
)
from domain.identifiers import FreeText, HeaderText, OdsCode, SafeEmail
from domain.report import ReportLine
from domain.responses import FieldSpec, ResponseInput, ResponseOutcome
from domain.unfunded_claim import CONTRACT_DUTIES, Category
from domain.working_days import (
    DEADLINE_TIME,
    LONDON,
    at_close_of_day,
    describe_deadline,
    is_working_day,
    london_date,
    next_working_day,
)

KIND = "interface_alert"


class Risk(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


CATEGORY_LABELS: dict[Category, str] = {
    Category.ONWARD_REFERRAL: "Onward referral left to the GP",
    Category.DNA_REREFERRAL: "Discharged to the GP to re-refer after a missed appointment",
    Category.DISCHARGE_SUMMARY: "Discharge summary late or missing",
    Category.CLINIC_LETTER: "Clinic letter late or missing",
    Category.DISCHARGE_MEDICATION: "Too little medication on discharge",
    Category.OUTPATIENT_MEDICATION: "Outpatient medication left to the GP",
    Category.FIT_NOTE: "Fit note left to the GP",
    Category.SHARED_CARE: "Prescribing moved without a shared care agreement",
    Category.TEST_RESULTS: "Test results left to the GP to tell the patient",
    Category.OTHER: "Other work moved onto the practice",
}


def category_text(category: Category) -> str:
    """The category with the contract duty it breaches, as the practice and the provider read it."""
    duty, clause = CONTRACT_DUTIES[category]
    if not duty:  # work of the kind 'other': its description says what it is
        return CATEGORY_LABELS[category]
    return f"{CATEGORY_LABELS[category]} (duty: {duty}{f', {clause}' if clause else ''})"


class AlertRequest(BaseModel):
    """What a practice reports (through its standing link), or an officer on its behalf."""

    title: HeaderText = Field(min_length=3, max_length=200)
    officer_email: SafeEmail
    practice_ods: OdsCode
    practice_name: HeaderText = Field(min_length=1, max_length=200)
    practice_email: SafeEmail
    provider_code: str = Field(min_length=2, max_length=12)
    service: HeaderText = Field(min_length=2, max_length=200)
    category: Category
    occurred_on: date
    document_ref: HeaderText = Field(min_length=1, max_length=100)
    items: StrictInt = Field(ge=1, le=10_000)
    what_happened: FreeText = Field(min_length=3, max_length=2000)
    staff_minutes: StrictInt = Field(ge=0, le=100_000)
    risk: Risk = Risk.ROUTINE


def digest_time(calendar: WorkingCalendar, reported: datetime) -> datetime:
    """When a routine alert reported at `reported` reaches the provider: 17:00 London on the working day
    it was reported, or on the next working day if it came after 17:00 or on a day off."""
    local = reported.astimezone(LONDON)
    day = local.date()
    if not is_working_day(calendar, day) or local.timetz().replace(tzinfo=None) >= DEADLINE_TIME:
        day = next_working_day(calendar, day + timedelta(days=1) if is_working_day(calendar, day) else day)
    return at_close_of_day(day)


def digest_id(calendar: WorkingCalendar, provider_code: str, reported: datetime) -> str:
    """The digest a routine alert joins: one per provider per working day."""
    return f"IFA-DIGEST-{provider_code.upper()}-{london_date(digest_time(calendar, reported)):%Y%m%d}"


class DigestEntry(BaseModel):
    """One alert as the day's digest lists it: only what the practice reported, nothing about patients."""

    reference: str
    practice: str
    service: str
    category: str
    occurred_on: date
    document_ref: str
    items: int
    staff_minutes: int
    what_happened: str
    answer_by: str


class JoinDigest(Command):
    """Put a routine alert in its provider's digest for the working day (`digest_id`, sent at `send_at`)."""

    digest_id: str
    provider: Organisation
    send_at: datetime
    entry: DigestEntry


class IndexAlert(Command):
    """Write the alert's index row (what the practice's page, the pattern view and the analysis read), however
    the alert was started: a practice's page, the console's form or a JSON file."""

    reference: str
    ods: str
    provider: str
    category: str
    service: str
    occurred_on: date
    document_ref: str
    items: int
    staff_minutes: int
    risk: str
    reported_at: datetime

    @classmethod
    def of(cls, reference: str, alert: AlertRequest, provider_code: str, now: datetime) -> IndexAlert:
        """The index row of the alert `reference`, reported at `now`: one shape whoever writes it first."""
        return cls(
            reference=reference,
            ods=alert.practice_ods,
            provider=provider_code.upper(),
            category=alert.category.value,
            service=alert.service,
            occurred_on=alert.occurred_on,
            document_ref=alert.document_ref,
            items=alert.items,
            staff_minutes=alert.staff_minutes,
            risk=alert.risk.value,
            reported_at=now,
        )


class AlertStatus(StrEnum):
    WAITING = "awaiting_digest"  # routine: until the day's digest goes
    AWAITING_ANSWER = "awaiting_answer"
    INFORMATION_REQUESTED = "information_requested"
    CLOSED = "closed"


class Outcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    DISPUTED = "disputed"
    WITHDRAWN = "withdrawn"


STATE_WORDS: dict[str, str] = {
    AlertStatus.WAITING: "goes to the provider at 5pm on the working day it was reported",
    AlertStatus.AWAITING_ANSWER: "waiting for the provider's answer",
    AlertStatus.INFORMATION_REQUESTED: "the provider asks you a question",
    Outcome.ACKNOWLEDGED: "acknowledged by the provider",
    Outcome.DISPUTED: "disputed by the provider",
    Outcome.WITHDRAWN: "withdrawn by the LMC",
}
"""Where an alert stands, as the practice reads it."""

ACKNOWLEDGE = "acknowledge"
DISPUTE = "dispute_alert"
REQUEST_INFO = "request_info"
SUPPLY_INFO = "supply_info"
WITHDRAW = "withdraw"

ACTION_LABELS: dict[str, str] = {
    ACKNOWLEDGE: "Acknowledge, with the action taken",
    DISPUTE: "Dispute the alert, with the reason",
    REQUEST_INFO: "Ask the practice for information",
    SUPPLY_INFO: "Send the information asked for",
    WITHDRAW: "Withdraw the alert",
}
ACTION_FIELDS: dict[str, list[FieldSpec]] = {
    ACKNOWLEDGE: [FieldSpec("text", "Action taken", "text", True)],
    DISPUTE: [FieldSpec("reasons", "Why you dispute it", "text", True)],
    REQUEST_INFO: [FieldSpec("text", "What you need to know", "text", True)],
    SUPPLY_INFO: [FieldSpec("text", "The information asked for", "text", True)],
    WITHDRAW: [FieldSpec("reasons", "Why it is withdrawn", "text", True)],
}


class Answer(BaseModel):
    """One step of the exchange, as the practice's page shows it."""

    at: datetime
    by: str
    action: str
    text: str


def answer_days(policy: DeadlinePolicy, risk: Risk) -> int:
    return policy.acknowledgement_days if risk is Risk.URGENT else policy.response_days


class AlertCase(EscalationCase):
    """One alert: waits for the provider's answer; a question to the practice pauses the provider's clock."""

    alert: AlertRequest
    practice: Contact
    reaches_provider_at: datetime
    answers: list[Answer] = Field(default_factory=list)
    digest_message_id: str | None = None
    claim_ref: str | None = None

    @classmethod
    def open(
        cls,
        escalation_id: str,
        alert: AlertRequest,
        lmc: Lmc,
        officer: Contact,
        provider: Organisation,
        policy: DeadlinePolicy,
        now: datetime,
        rules: int = CURRENT_RULES,
        calendar: WorkingCalendar = LEGACY_CALENDAR,
    ) -> tuple[AlertCase, list[Effect]]:
        urgent = alert.risk is Risk.URGENT
        reaches = now if urgent else digest_time(calendar, now)
        case = cls(
            escalation_id=escalation_id,
            kind=KIND,
            title=alert.title,
            lmc=lmc,
            officer=officer,
            payer=provider,
            policy=policy,
            status=AlertStatus.AWAITING_ANSWER if urgent else AlertStatus.WAITING,
            alert=alert,
            practice=Contact(name=alert.practice_name, title="Practice", email=alert.practice_email),
            reaches_provider_at=reaches,
            rules=rules,
            as_of=now,
            calendar=calendar,
        )
        case.wait = None
        case.wait_for("answer", Role.PAYER, answer_days(policy, alert.risk), reaches)
        effects: list[Effect] = [
            AuditEffect(
                event="reported",
                actor=alert.practice_email,
                detail={
                    "practice": alert.practice_ods,
                    "provider": provider.code,
                    "category": alert.category.value,
                    "items": alert.items,
                    "staff_minutes": alert.staff_minutes,
                    "risk": alert.risk.value,
                },
            )
        ]
        effects.append(IndexAlert.of(escalation_id, alert, provider.code, now))
        if not urgent:
            effects.append(
                JoinDigest(
                    digest_id=digest_id(calendar, provider.code, now),
                    provider=provider,
                    send_at=reaches,
                    entry=DigestEntry(
                        reference=escalation_id,
                        practice=f"{alert.practice_name} ({alert.practice_ods})",
                        service=alert.service,
                        category=CATEGORY_LABELS[alert.category],
                        occurred_on=alert.occurred_on,
                        document_ref=alert.document_ref,
                        items=alert.items,
                        staff_minutes=alert.staff_minutes,
                        what_happened=alert.what_happened,
                        answer_by=case.deadline_text(),
                    ),
                )
            )
        else:
            effects.append(
                case.email_payer(
                    "urgent-alert",
                    f"Urgent interface alert from {alert.practice_name}",
                    [
                        f"{alert.practice_name} ({alert.practice_ods}) reports work moved onto the practice by "
                        f"{provider.name} and marks it urgent.",
                        f"Please answer by {case.deadline_text()}, using the link below: acknowledge it with the "
                        "action taken, dispute it with your reason, or ask the practice for information.",
                    ],
                )
            )
        return case, effects

    def deadline_text(self) -> str:
        wait = self.wait
        return describe_deadline(wait.deadline) if wait is not None and wait.deadline is not None else "-"

    # --- what the kind provides ------------------------------------------------------------
    def payer_actions(self) -> list[str]:
        if self.status in (AlertStatus.WAITING, AlertStatus.AWAITING_ANSWER):
            return [ACKNOWLEDGE, DISPUTE, REQUEST_INFO]
        return []

    def officer_actions(self) -> list[str]:
        return [WITHDRAW]

    def practice_actions(self) -> list[str]:
        return [SUPPLY_INFO] if self.status == AlertStatus.INFORMATION_REQUESTED else []

    def action_labels(self) -> dict[str, str]:
        return ACTION_LABELS

    def action_fields(self) -> dict[str, list[FieldSpec]]:
        return ACTION_FIELDS

    def parties(self) -> set[str]:
        return {*super().parties(), self.alert.practice_ods}

    def report_lines(self) -> list[ReportLine]:
        """Nothing: an alert is evidence, counted in the alert analysis; the claim started from alerts
        is what the work report counts, so items are never counted twice."""
        return []

    def facts(self) -> list[tuple[str, str]]:
        a = self.alert
        facts = [
            ("Reference", self.escalation_id),
            ("Practice", f"{a.practice_name} ({a.practice_ods})"),
            ("Provider", self.payer.name),
            ("Service", a.service),
            ("Category", category_text(a.category)),
            ("Date", f"{a.occurred_on.day} {a.occurred_on:%B %Y}"),
            ("Letter or document reference", a.document_ref),
            ("Items", str(a.items)),
            ("Staff time", f"{a.staff_minutes} minutes"),
            ("Risk", a.risk.value),
            ("What happened", a.what_happened),
        ]
        for answer in self.answers:
            facts.append((f"{ACTION_LABELS.get(answer.action, answer.action)} ({answer.by})", answer.text))
        if self.claim_ref:
            facts.append(("Claimed in", self.claim_ref))
        return facts

    def check(self, response: ResponseInput, now: datetime | None = None) -> None:
        self.check_actor(response)
        if response.actor_role is Role.PRACTICE and response.actor_email.lower() != self.practice.email:
            raise ResponseRefused(f"{response.actor_email} is not the contact of {self.alert.practice_name}.")
        for spec in ACTION_FIELDS.get(response.action, []):
            value = response.text if spec.name == "text" else response.reasons
            if spec.required and not (value or "").strip():
                raise ResponseRefused(f"{spec.name}: {spec.label} is required.")

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        self.check(response, now)
        self.as_of = now
        said = (response.text or response.reasons or "").strip()
        audit = self.record_response(response.action, response.actor_email, {"status": self.status})
        self.answers.append(Answer(at=now, by=response.actor_email, action=response.action, text=said))
        effects: list[Effect] = [audit]
        practice = self.alert.practice_name
        if response.action == ACKNOWLEDGE:
            self.close(Outcome.ACKNOWLEDGED)
            message = "Acknowledged. The practice and the LMC have been told. Thank you."
            effects.append(self._tell_practice("acknowledged", "Your alert was acknowledged", said))
        elif response.action == DISPUTE:
            self.close(Outcome.DISPUTED)
            message = "Your reason has been sent to the practice and the LMC."
            effects.append(self._tell_practice("disputed", "Your alert was disputed", said))
            effects.append(
                self.email_officer(
                    "alert-disputed",
                    f"Alert disputed by {self.payer.name}",
                    [f"{self.payer.name} disputes the alert from {practice}: {said}"],
                )
            )
        elif response.action == REQUEST_INFO:
            paused = self.pause_payer_clock(now)
            self.status = AlertStatus.INFORMATION_REQUESTED
            self.wait = paused
            message = f"Your question has been sent to {practice}. The clock stops until they answer."
            effects.append(
                self.email_to(
                    self.practice,
                    Role.PRACTICE,
                    "information-requested",
                    f"{self.payer.name} asks about your alert",
                    [f"{self.payer.name} asks: {said}", "Please answer using the link below."],
                )
            )
        elif response.action == SUPPLY_INFO:
            self.status = AlertStatus.AWAITING_ANSWER
            if self.wait is not None and self.wait.paused_days_left is not None:
                self.resume_payer_clock(self.wait, now)
            message = f"Your answer has been sent to {self.payer.name}."
            effects.append(
                self.email_payer(
                    "information-supplied",
                    f"{practice} answered your question",
                    [f"{practice} answers: {said}", f"Please answer the alert by {self.deadline_text()}."],
                )
            )
        else:  # WITHDRAW
            self.close(Outcome.WITHDRAWN)
            message = "The alert is withdrawn."
            effects.append(self._tell_practice("withdrawn", "Your alert was withdrawn by the LMC", said))
        if self.is_closed:
            effects.append(AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome}))
        return ResponseOutcome(status=self.outcome or self.status, message=message), effects

    def _tell_practice(self, purpose: str, headline: str, said: str) -> Effect:
        return self.email_to(
            self.practice,
            Role.PRACTICE,
            f"alert-{purpose}",
            headline,
            [f"{self.payer.name} ({self.payer_contact.name}): {said}" if purpose != "withdrawn" else said],
        )

    # --- the digest and the claim ------------------------------------------------------------
    def digest_sent(self, message_id: str, to: str, now: datetime, held: bool = False) -> list[Effect]:
        """The day's digest carried this alert to the provider (or was held for ops, who send it or confirm it
        arrived, like any held email). The answer clock runs from the close of the day either way."""
        if self.digest_message_id is not None:
            return []
        self.digest_message_id = message_id
        if self.status == AlertStatus.WAITING:
            self.status = AlertStatus.AWAITING_ANSWER
        self.touch()
        return [
            AuditEffect(
                event="email_held" if held else "email_sent",
                actor="engine",
                detail={"purpose": "alert-digest", "to": to, "message_id": message_id},
            )
        ]

    def claimed(self, claim_ref: str, by: str) -> list[Effect]:
        if self.claim_ref == claim_ref:
            return []
        self.claim_ref = claim_ref
        self.touch()
        return [AuditEffect(event="claimed", actor=by, detail={"claim": claim_ref})]
