"""The mechanism every escalation kind shares: waits with working-day deadlines, the
reminder-then-ladder response to a missed deadline, the payer's pausable clock, and the
effects (audit entries and emails) a transition asks the workflow to carry out.

Kinds subclass `EscalationCase` and add their own states and actions; none of them
re-implements deadlines, the ladder, or how emails to the payer are addressed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from domain import formatting, wording
from domain.calendar import CalendarChange, WorkingCalendar, legacy_calendar
from domain.contacts import Contact, Interest, Lmc, Organisation, Role, barring_interest
from domain.identifiers import BIRTH_DATE_REFUSAL, has_visible_text, mentions_birth_date
from domain.money import beyond_reason
from domain.report import ReportLine
from domain.responses import MOST_COUNT, FieldSpec, ResponseInput, ResponseOutcome
from domain.tables import Table
from domain.working_days import (
    add_working_days,
    at_close_of_day,
    beyond_calendar,
    date_set_problem,
    describe_date,
    describe_day,
    describe_deadline,
    london_date,
    moved_deadline,
    next_working_day,
    working_days_left,
)

PRACTICE_CODE = re.compile(r"[A-Z][0-9]{5}")  # a GP practice's ODS code; ICBs' and trusts' codes differ

TOP_LEVEL = 3
DATE_WAITS = frozenset({"payment", "returns"})
"""Waits for a date someone gave, not counted in working days: a new bank holiday does not move them."""

LEGACY_RULES = 1
"""The rules every escalation ran under before issue #12; a case recorded without `rules` reads as this."""
MONEY_AND_DATES = 2
"""Issue #12: amounts above £0, working-day dates not in the past, deregistration windows, a counter-offer's
terms carried into the agreement, and a payment other than the agreed amount kept open for the officer."""
CONSOLE_LISTING = 3
"""Issue #15: the case publishes what the console's dashboard lists (title, practices, contacts, money, held
emails) in its search-attribute upserts. A version of the rules, not a `workflow.patched` marker: a patch costs
every workflow two history events (the marker and its own upsert), and an incident runs hundreds."""
LADDER_AND_TIES = 4
"""DOMAIN.md's rules as the last review found them unmet: a dispute that takes the ladder to its top puts the
escalation on the liaison agenda (as a missed deadline's climb does); a payer's clock resumed after their question
is answered starts again with no misses (so the next miss is a reminder, not a climb); and a penny tied between
practices goes to the lower ODS code, whatever order the claims were loaded in."""
CURRENT_RULES = LADDER_AND_TIES
"""What a case opened now runs under."""
DECLARE_INTEREST = "declare_interest"
COMMON_LABELS = {DECLARE_INTEREST: "Declare an interest in a party"}
COMMON_FIELDS = {
    DECLARE_INTEREST: [
        FieldSpec("text", "Party (ODS code, or ICB or trust code)", "text", True),
        FieldSpec("reasons", "Nature of the interest", "text"),
    ]
}


class DeadlinePolicy(BaseModel):
    """Working-day allowances for each wait (DOMAIN.md defaults); configurable per kind."""

    acknowledgement_days: int = Field(default=3, ge=1)
    response_days: int = Field(default=20, ge=1)
    trust_response_days: int = Field(default=10, ge=1)
    reminder_grace_days: int = Field(default=5, ge=1)
    practice_return_days: int = Field(default=15, ge=1)
    officer_reply_days: int = Field(default=10, ge=1)
    confirmation_days: int = Field(default=10, ge=1)
    payment_calendar_days: int = Field(default=30, ge=1)


class Wait(BaseModel):
    """What the escalation is waiting for, who holds the ball, and until when."""

    purpose: str
    holder: Role
    deadline: datetime | None
    misses: int = 0
    paused_days_left: int | None = None
    in_working_days: bool | None = None
    """Whether the deadline was counted in working days (so a new bank holiday moves it) or is a date
    someone gave; None in waits recorded before this was kept (see `EscalationCase.counts_working_days`)."""
    since: datetime | None = None  # when it was asked, for letters that stand alone (None: recorded before)
    reminded_at: datetime | None = None  # when the last reminder went

    @property
    def overdue(self) -> bool:
        return self.misses > 0


class Ladder(BaseModel):
    level: int = Field(default=1, ge=1, le=TOP_LEVEL)
    stalled: bool = False
    on_liaison_agenda: bool = False


class AuditEffect(BaseModel):
    kind: Literal["audit"] = "audit"
    event: str
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)


class EmailEffect(BaseModel):
    """An email to one person; `actions` become a signed link for that person alone."""

    kind: Literal["email"] = "email"
    purpose: str
    to: Contact
    to_role: Role
    cc: list[Contact] = Field(default_factory=list)
    subject: str
    headline: str
    paragraphs: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)


class Command(BaseModel):
    """An effect beyond audit and email that a kind's workflow carries out (store a return,
    start a child, tell the practices something); kinds subclass it."""


Effect = AuditEffect | EmailEffect | Command


class ResponseRefused(ValueError):
    """A response that cannot be taken now; the message is shown to the person as is."""


MOST_DAYS_AHEAD = 731
"""How far ahead a date in a response may be: a payment expected, a deadline extended, work commissioned from (an
April up to 15 months away). Two years is beyond any the parties set; a date past it is a slip of the year (2035
for 2025), refused rather than waited for."""


def check_within_reason(response: ResponseInput, calendar: WorkingCalendar, today: date | None = None) -> None:
    """What no case takes in any state: an amount past `domain.money.MOST_PENCE`, a count past `MOST_COUNT`, a date
    outside the years the bank-holiday calendar knows or (given `today`) more than `MOST_DAYS_AHEAD` ahead, text of
    invisible characters alone or that speaks of a date of birth, a party that is not a code. For the workflow's update validator alone, which never
    runs on replay, so a run recorded before these rules replays as it ran."""
    problem = beyond_reason(response.amount_pence) if response.amount_pence is not None else None
    if problem is not None:
        raise ResponseRefused(f"amount_pence: {problem}.")
    for item, count in (response.counts or {}).items():
        if count > MOST_COUNT:
            raise ResponseRefused(
                f"count.{item}: {count:,} is more than any practice's list holds; give at most {MOST_COUNT:,}."
            )
    if response.on_date is not None and (outside := beyond_calendar(calendar, response.on_date)) is not None:
        raise ResponseRefused(f"on_date: {outside}.")
    if response.on_date is not None and today is not None and (response.on_date - today).days > MOST_DAYS_AHEAD:
        latest = today + timedelta(days=MOST_DAYS_AHEAD)
        raise ResponseRefused(
            f"on_date: {describe_date(response.on_date)} is more than two years away; give a date by "
            f"{describe_date(latest)} (is the year right?)."
        )
    for name in ("reasons", "text"):
        said = getattr(response, name)
        if said and not has_visible_text(said):
            raise ResponseRefused(f"{name}: has nothing in it but spaces or invisible characters; write it out.")
        if said and mentions_birth_date(said):
            raise ResponseRefused(f"{name}: {BIRTH_DATE_REFUSAL}.")
    party = (response.text or "").strip().upper() if response.action == DECLARE_INTEREST else ""
    if party and not (party.isascii() and party.isalnum()):
        raise ResponseRefused(_not_a_party(party))


def _not_a_party(party: str) -> str:
    return (
        f"text: '{party[:20]}' is not a party's code; give an ODS code, or an ICB's or trust's code "
        "(2 to 12 letters and digits)."
    )


class CaseHeader(BaseModel):
    """What heads every case, whatever its kind: its reference and title, and the parties to it."""

    reference: str
    kind: str
    title: str
    lmc: str
    officer: Contact
    payer: Organisation


class EscalationCase(BaseModel):
    """State shared by every escalation kind. Methods take `now` so replay is deterministic.

    `rules` is the version of the rules the case was opened under, and it never changes. A change
    to what an accepted response or a timer does (so to the commands a workflow issues) applies
    only to cases opened under the rules that introduced it: an escalation already running, whose
    history was recorded under older rules, replays them exactly. The field's default is the old
    rules, so a case recorded before it existed (a start input or a continue-as-new payload without
    it) reads as such; a new case gets `CURRENT_RULES` from its start (`EscalationStart.rules`, set
    by the kind's builder, or inherited from its parent incident). Chosen over `workflow.patched`
    because the rules are the domain's decision, testable without Temporal, and a case carries them
    to its children and across continue-as-new with the rest of its state.
    """

    escalation_id: str
    kind: str
    title: str
    lmc: Lmc
    officer: Contact
    payer: Organisation
    policy: DeadlinePolicy
    status: str
    outcome: str | None = None
    ladder: Ladder = Field(default_factory=Ladder)
    wait: Wait | None = None
    revision: int = 0
    declared_interests: list[Interest] = Field(default_factory=list)
    related_parties: list[str] = Field(default_factory=list)  # a parent escalation's parties, for conflicts
    former_contacts: list[str] = Field(default_factory=list)  # replaced payer contacts whose links still act
    rules: int = LEGACY_RULES
    as_of: datetime | None = None  # the latest instant the case acted at: "today" for a check given no time
    calendar: WorkingCalendar = Field(default_factory=legacy_calendar)
    """The bank holidays this case counts working days over, from its start (or the latest change ops sent
    it); a case recorded before calendars travelled reads as the frozen legacy calendar."""

    # --- what kinds provide -------------------------------------------------------------
    def payer_actions(self) -> list[str]:
        """Payer actions open in the current state."""
        raise NotImplementedError

    def officer_actions(self) -> list[str]:
        """Officer actions open in the current state."""
        raise NotImplementedError

    def facts(self) -> list[tuple[str, str]]:
        """Label/value lines that summarise the case in emails and on link pages."""
        raise NotImplementedError

    def shown_facts(self, reader: Role | None = None) -> list[tuple[str, str]]:
        """`facts` as people read them: once the case has ended, none that says when something is awaited; "your"
        only to the practice whose case it is (`wording.for_reader`)."""
        facts = self.facts() if self.outcome is None else wording.without_awaited(self.facts())
        return wording.for_reader(facts, reader)

    def action_labels(self) -> dict[str, str]:
        """How each of this kind's actions is named to people."""
        raise NotImplementedError

    def tables(self) -> list[Table]:
        """Tables a recipient needs to decide (a claim's lines), in emails and on link pages."""
        return []

    def action_fields(self) -> dict[str, list[FieldSpec]]:
        """The inputs each action's form asks for."""
        return {}

    def report_lines(self) -> list[ReportLine]:
        """What this escalation contributes to the work report; parts of a larger one contribute nothing."""
        return []

    def check(self, response: ResponseInput, now: datetime | None = None) -> None:
        """Raise `ResponseRefused` if `response` cannot be taken now; change nothing.

        `now` is when the response arrives (the workflow's clock); without it, the case's `as_of`."""
        raise NotImplementedError

    def actions_offered(self, role: Role) -> list[str]:
        """The actions a page offers `role`: those open to it (`actions_for`) less any `check_as_sent` would refuse
        whatever is sent. Pages and views alone; what a handler allows stays `actions_for`."""
        return self.actions_for(role)

    def check_as_sent(self, response: ResponseInput) -> None:
        """Rules for a response as it arrives, after `check`: the update's validator alone asks them, never a
        handler replaying a recorded run, so a rule added here changes no recorded history. Kinds with such rules
        say so."""

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        """Take a checked response: transition, and return what to tell the person and do."""
        raise NotImplementedError

    # --- shared behaviour ---------------------------------------------------------------
    @property
    def header(self) -> CaseHeader:
        return CaseHeader(
            reference=self.escalation_id,
            kind=self.kind,
            title=self.title,
            lmc=self.lmc.name,
            officer=self.officer,
            payer=self.payer,
        )

    @property
    def is_closed(self) -> bool:
        return self.outcome is not None

    @property
    def console_listing(self) -> bool:
        """Whether this case publishes the console's search attributes (see `CONSOLE_LISTING`)."""
        return self.rules >= CONSOLE_LISTING

    @property
    def money_and_dates(self) -> bool:
        """Whether this case runs under issue #12's rules (see `rules`)."""
        return self.rules >= MONEY_AND_DATES

    def today(self, now: datetime | None = None) -> date | None:
        """The London date of `now`, or of the last instant the case acted at; None if neither is known."""
        instant = now or self.as_of
        return london_date(instant) if instant is not None else None

    def require_working_day(self, field: str, what: str, day: date, now: datetime | None = None) -> None:
        """Refuse a date someone sets that must be a working day and not in the past, offering the next one."""
        problem = date_set_problem(self.calendar, day, self.today(now), what)
        if problem is not None:
            raise ResponseRefused(f"{field}: {problem}.")

    def payment_gap(self) -> int | None:
        """Money received less money due, in pence, once a payment is recorded (negative: underpaid)."""
        return None

    @property
    def underpaid(self) -> bool:
        gap = self.payment_gap()
        return gap is not None and gap < 0

    @property
    def payer_contact(self) -> Contact:
        return self.payer.contact_at(self.ladder.level)

    def check_actor(self, response: ResponseInput) -> None:
        """Refuse responses to a closed case, from strangers, or of actions not open to them now."""
        if self.is_closed:
            raise ResponseRefused(
                f"This escalation is closed ({wording.outcome(self.outcome or '')}); nothing more can be recorded."
            )
        role = response.actor_role
        if (
            role is Role.PAYER
            and not self.payer.knows(response.actor_email)
            and response.actor_email.lower() not in self.former_contacts
        ):
            raise ResponseRefused(f"{response.actor_email} is not a contact of {self.payer.name} for this escalation.")
        if role is Role.OFFICER and self.lmc.officer(response.actor_email) is None:
            raise ResponseRefused(f"{response.actor_email} is not an officer of {self.lmc.name}.")
        open_now = self.actions_for(role)
        if response.action not in open_now:
            labels = {**self.action_labels(), **COMMON_LABELS}
            label = labels.get(response.action) or response.action.replace("_", " ")  # another kind's: in words
            named = [f"'{labels.get(action, action)}'" for action in open_now]
            raise ResponseRefused(
                f"'{label}' is not open at this stage ({wording.status(self.status)})"
                + (f"; open now: {', '.join(named)}." if open_now else "; nothing is open to you now.")
            )

    def actions_for(self, role: Role) -> list[str]:
        if self.is_closed:
            return []
        if role is Role.PAYER:
            return self.payer_actions()
        if role is Role.OFFICER:
            return [*self.officer_actions(), DECLARE_INTEREST]
        if role is Role.PRACTICE:
            return self.practice_actions()
        return []

    # --- conflicts of interest ----------------------------------------------------------
    def parties(self) -> set[str]:
        """Codes of the organisations this escalation involves; kinds add their practices."""
        return {self.payer.code.upper(), *self.related_parties}

    def practice_codes(self) -> list[str]:
        """The practices this escalation is for (not a parent's), as the console lists and searches them."""
        return sorted(c for c in self.parties() - set(self.related_parties) if PRACTICE_CODE.fullmatch(c))

    @property
    def number_of_practices(self) -> int:
        """How many practices the console says this escalation is for (incidents count their list)."""
        return len(self.practice_codes())

    def amounts(self) -> tuple[int, int, int]:
        """Claimed, agreed and paid in pence, as the console lists them: by default the report's lines summed."""
        lines = self.report_lines()
        return (
            sum(line.claimed_pence for line in lines),
            sum(line.agreed_pence for line in lines),
            sum(line.paid_pence for line in lines),
        )

    def contact_emails(self) -> list[str]:
        """Every contact's work address the console may find this escalation by (NHS staff, never patients)."""
        return [c.email for c in self.payer.ladder]

    def conflict(self, response: ResponseInput) -> Interest | None:
        """The declared interest that bars this officer from acting here, if any."""
        if response.actor_role is not Role.OFFICER or response.action == DECLARE_INTEREST:
            return None
        return barring_interest([*self.lmc.interests, *self.declared_interests], response.actor_email, self.parties())

    def refuse_for_conflict(self, response: ResponseInput, interest: Interest) -> tuple[str, AuditEffect]:
        self.touch()
        message = (
            f"Refused: {response.actor_email} has declared an interest in {interest.party}"
            + (f" ({interest.nature})" if interest.nature else "")
            + ", a party to this escalation, so may view it but not act on it."
        )
        audit = AuditEffect(
            event="refused:conflict_of_interest",
            actor=response.actor_email,
            detail={"action": response.action, "party": interest.party},
        )
        return message, audit

    def check_interest(self, response: ResponseInput) -> Interest:
        """The interest a declaration records, or `ResponseRefused` naming the field at fault."""
        party = (response.text or "").strip().upper()
        if not party:
            raise ResponseRefused("text: name the party (an ODS code, or an ICB's or trust's code).")
        try:
            return Interest(officer=response.actor_email, party=party, nature=response.reasons or "")
        except ValidationError as err:
            fields = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
            if "party" in fields:
                raise ResponseRefused(_not_a_party(party)) from None
            raise ResponseRefused(
                "reasons: the nature of the interest must be at most 500 characters, with no NHS number."
            ) from None

    def declare_interest(self, response: ResponseInput) -> tuple[ResponseOutcome, list[Effect]]:
        interest = self.check_interest(response)
        party = interest.party
        self.declared_interests.append(interest)
        self.touch()
        involved = party in self.parties()
        audit = AuditEffect(
            event="interest_declared",
            actor=response.actor_email,
            detail={"party": party, "nature": interest.nature, "party_involved": involved},
        )
        message = f"Interest in {party} recorded." + (
            " It is a party to this escalation: you may view it but not act on it." if involved else ""
        )
        return ResponseOutcome(status=self.status, message=message), [audit]

    def practice_actions(self) -> list[str]:
        """Actions open to a practice (kinds with practice returns)."""
        return []

    def wait_for(self, purpose: str, holder: Role, days: int, now: datetime) -> None:
        deadline = add_working_days(self.calendar, now, days)
        self.wait = Wait(purpose=purpose, holder=holder, deadline=deadline, in_working_days=True, since=now)

    def wait_until_date(self, purpose: str, holder: Role, deadline: datetime, now: datetime | None = None) -> None:
        day = at_close_of_day(london_date(deadline))
        self.wait = Wait(purpose=purpose, holder=holder, deadline=day, in_working_days=False, since=now or self.as_of)

    def default_payment_date(self, now: datetime) -> datetime:
        """`payment_calendar_days` on; a case opened under CONSOLE_LISTING or later rolls a weekend or bank holiday
        on to the next working day, as a payment date someone gives must be one (older cases keep their dates)."""
        day = london_date(now + timedelta(days=self.policy.payment_calendar_days))
        if self.rules >= CONSOLE_LISTING:
            day = next_working_day(self.calendar, day)
        return at_close_of_day(day)

    def payment_date(self, day: date | None, now: datetime) -> datetime:
        """17:00 on the payment date given, or the default (`payment_calendar_days` on)."""
        return at_close_of_day(day) if day is not None else self.default_payment_date(now)

    def close(self, outcome: str) -> None:
        self.outcome = outcome
        self.status = "closed"
        self.wait = None

    def pause_payer_clock(self, now: datetime) -> Wait | None:
        """Hold the payer's remaining working days while the LMC owes them something."""
        if self.wait is None or self.wait.holder is not Role.PAYER or self.wait.deadline is None:
            return self.wait
        paused = self.wait.model_copy()
        paused.paused_days_left = max(1, working_days_left(self.calendar, now, self.wait.deadline))
        paused.deadline = None
        return paused

    def resume_payer_clock(self, paused: Wait, now: datetime) -> None:
        resumed = paused.model_copy()
        days = resumed.paused_days_left or self.policy.reminder_grace_days
        resumed.deadline = add_working_days(self.calendar, now, days)
        resumed.in_working_days = True
        resumed.paused_days_left = None
        if self.rules >= LADDER_AND_TIES:  # their question was a response: the next miss is a reminder again
            resumed.misses = 0
        self.wait = resumed

    def payer_cc(self) -> list[Contact]:
        """Officer always; the named contact once escalated; the LMC chair at the top."""
        cc = [self.officer]
        if self.ladder.level > 1:
            cc.append(self.payer.contact_at(1))
        if self.ladder.level >= TOP_LEVEL:
            cc.append(self.lmc.chair)
        return cc

    def email_to(
        self,
        to: Contact,
        role: Role,
        purpose: str,
        headline: str,
        paragraphs: list[str],
        cc: list[Contact] | None = None,
    ) -> EmailEffect:
        """An email about this case; the recipient's link offers what `role` may do."""
        return EmailEffect(
            purpose=purpose,
            to=to,
            to_role=role,
            cc=cc or [],
            subject=f"[{self.escalation_id}] {headline}{self.by_when(role, headline)}",
            headline=headline,
            paragraphs=paragraphs,
            actions=self.actions_for(role),
        )

    def by_when(self, role: Role, headline: str) -> str:
        """', reply by Friday 5 December 2025' for a subject, when the case waits on `role` and the
        headline does not already say by when."""
        wait = self.wait
        if wait is None or wait.deadline is None or wait.holder is not role or " by " in headline:
            return ""
        if wait.purpose == "payment":  # the payer's to make, not a reply
            return ""
        return f", reply by {formatting.day(london_date(wait.deadline))}"

    def email_payer(self, purpose: str, headline: str, paragraphs: list[str]) -> EmailEffect:
        return self.email_to(self.payer_contact, Role.PAYER, purpose, headline, paragraphs, self.payer_cc())

    def email_officer(self, purpose: str, headline: str, paragraphs: list[str]) -> EmailEffect:
        return self.email_to(self.officer, Role.OFFICER, purpose, headline, paragraphs)

    def touch(self) -> None:
        self.revision += 1

    def next_timer(self) -> datetime | None:
        """When the case next needs waking if nobody responds; kinds may add earlier reminders."""
        return self.wait.deadline if self.wait is not None else None

    def on_timer(self, now: datetime) -> list[Effect]:
        return self.on_deadline_missed(now)

    def on_deadline_missed(self, now: datetime) -> list[Effect]:
        """A wait's deadline passed: remind once, then climb a level, then stall.

        The payer's waits climb the ladder; the LMC's own waits only remind the officer,
        then mark the wait overdue. Nothing here ever closes the escalation.
        """
        wait = self.wait
        if wait is None or wait.deadline is None or now < wait.deadline:
            return []
        missed = wait.deadline
        wait.misses += 1
        self.touch()
        effects: list[Effect] = [
            AuditEffect(
                event="deadline_missed",
                actor="timer",
                detail={"wait": wait.purpose, "deadline": missed.isoformat(), "misses": wait.misses},
            )
        ]
        grace = self.policy.reminder_grace_days
        what = wording.wait(wait.purpose)
        if wait.holder is not Role.PAYER:
            if wait.misses == 1:
                wait.deadline, wait.in_working_days = add_working_days(self.calendar, now, grace), True
                effects.append(
                    self.email_officer(
                        f"reminder-{wait.purpose}",
                        f"Reminder: {wording.wait_short(wait.purpose)} due from the LMC by "
                        f"{formatting.day(london_date(wait.deadline))}",
                        [
                            f"{self.payer.name} is waiting for {wording.wait(wait.purpose)} on {self.title}"
                            + (f", due since {formatting.day(london_date(wait.since))}" if wait.since else "")
                            + f". The deadline of {describe_deadline(missed)} has passed.",
                            f"Please respond by {describe_deadline(wait.deadline)}, using the link below. "
                            "If there is still no reply then, the escalation is marked overdue on the dashboard.",
                        ],
                    )
                )
            else:
                wait.deadline = None
                effects.append(AuditEffect(event="overdue", actor="timer", detail={"wait": wait.purpose}))
            return effects

        if wait.misses % 2 == 1:
            wait.deadline, wait.in_working_days = add_working_days(self.calendar, now, grace), True
            wait.reminded_at = now
            effects.append(
                self.email_payer(
                    f"reminder-{wait.purpose}-L{self.ladder.level}",
                    f"Reminder: {wording.wait_short(wait.purpose)} overdue, "
                    f"please respond by {formatting.day(london_date(wait.deadline))}",
                    [
                        (f"On {formatting.day(london_date(wait.since))}, " if wait.since else "")
                        + f"{self.lmc.name} asked {self.payer.name} for {what} about \u201c{self.title}\u201d, "
                        f"by {describe_deadline(missed)}. We have not had it, so it is now overdue.",
                        f"Please respond by {describe_deadline(wait.deadline)}, using the link below. "
                        + self.next_on_ladder(),
                    ],
                )
            )
            return effects

        if self.ladder.level < TOP_LEVEL:
            self.ladder.level += 1
            wait.deadline, wait.in_working_days = add_working_days(self.calendar, now, grace), True
            paragraphs = [
                *self.history_so_far(missed),
                f"We now ask you, as {self.payer_contact.title}, to respond by {describe_deadline(wait.deadline)}, "
                "using the link below. " + self.next_on_ladder(),
            ]
            paragraphs += self.onto_liaison_agenda()
            effects.append(
                AuditEffect(
                    event="ladder_climbed",
                    actor="timer",
                    detail={"level": self.ladder.level, "contact": self.payer_contact.title},
                )
            )
            effects.append(
                self.email_payer(
                    f"escalated-{wait.purpose}-L{self.ladder.level}",
                    f"Escalated to you: {wording.wait_short(wait.purpose)} overdue, "
                    f"please respond by {formatting.day(london_date(wait.deadline))}",
                    paragraphs,
                )
            )
            return effects

        self.ladder.stalled = True
        wait.deadline = None
        effects.append(AuditEffect(event="stalled", actor="timer", detail={"wait": wait.purpose}))
        effects.append(
            self.email_officer(
                f"stalled-{wait.purpose}",
                "Stalled: no response at the top of the ladder",
                [
                    f"{self.payer.name} has not responded even at the most senior level "
                    f"({self.payer_contact.title}) to {wording.wait(wait.purpose)} on {self.title}. "
                    "The escalation stays open: any contact can still respond "
                    "through their link, or you may decide what to do next.",
                ],
            )
        )
        return effects

    def onto_liaison_agenda(self) -> list[str]:
        """At the top of the ladder (DOMAIN.md: level 3) the chair is copied and the escalation goes on the next
        LMC liaison meeting's agenda; what the letter that takes it there says of it."""
        if self.ladder.level != TOP_LEVEL:
            return []
        self.ladder.on_liaison_agenda = True
        return ["The LMC chair is copied, and this matter is on the agenda of the next LMC liaison meeting."]

    def next_on_ladder(self) -> str:
        """What happens if the payer's current contact does not respond in time, in words."""
        if self.ladder.level < TOP_LEVEL:
            senior = self.payer.contact_at(self.ladder.level + 1)
            return f"If we have no response by then, the LMC will write to {senior.name}, {senior.title}."
        return (
            "If we have no response by then, the LMC officer will be told that the escalation has stalled at "
            "the most senior level, and will decide what to do next."
        )

    def history_so_far(self, missed: datetime) -> list[str]:
        """For a senior contact who has not seen the earlier thread: what was asked of whom and when,
        the reminder, and what is outstanding."""
        wait = self.wait
        what = wording.wait(wait.purpose) if wait is not None else "a response"
        earlier = [self.payer.contact_at(level) for level in range(1, self.ladder.level)]
        who = formatting.listing([f"{c.name} ({c.title})" for c in earlier])
        asked = f" on {formatting.day(london_date(wait.since))}" if wait is not None and wait.since else ""
        reminded = (
            f" A reminder followed on {formatting.day(london_date(wait.reminded_at))}."
            if wait is not None and wait.reminded_at
            else " A reminder followed."
        )
        return [
            f"{self.lmc.name} is pursuing \u201c{self.title}\u201d (reference {self.escalation_id}) with "
            f"{self.payer.name}. You are receiving this because it has not been answered at a less senior level.",
            f"What happened so far: {self.lmc.name} asked {who} for {what}{asked}."
            + reminded
            + f" The latest deadline, {describe_deadline(missed)}, has passed without a response.",
            f"Outstanding: {what}. The details are below and behind the link.",
        ]

    def replace_contact(self, old_email: str, new: Contact, by: str, reason: str, keep_old_links: bool) -> list[Effect]:
        """The payer's contact `old_email` (they left, they are on leave) is replaced by `new` wherever
        they stand on the ladder, so every later email goes to `new`. The old contact's links keep
        working only if the officer says so (withdrawn links are refused by the web app as well)."""
        old = old_email.lower()
        if not self.payer.knows(old):
            raise ResponseRefused(f"recipient: {old_email} is not on {self.payer.name}'s contact ladder here.")
        if self.payer.knows(new.email):
            raise ResponseRefused(f"email: {new.email} is already on {self.payer.name}'s contact ladder here.")
        self.payer.ladder = [
            new.model_copy(update={"title": c.title}) if c.email == old else c for c in self.payer.ladder
        ]
        if keep_old_links:
            self.former_contacts.append(old)
        self.touch()
        return [
            AuditEffect(
                event="contact_replaced",
                actor=by,
                detail={"old": old, "new": new.email, "reason": reason, "old_links_kept": keep_old_links},
            )
        ]

    # --- a new bank-holiday calendar ----------------------------------------------------
    def counts_working_days(self, wait: Wait) -> bool:
        """Whether `wait`'s deadline was counted in working days; a wait recorded before `in_working_days`
        was kept is, unless it waits for a date someone gave (a payment, a return deadline)."""
        if wait.in_working_days is not None:
            return wait.in_working_days
        return wait.purpose not in DATE_WAITS

    def adopt_calendar(
        self, change: CalendarChange, now: datetime, last_email: EmailEffect | None
    ) -> tuple[str, list[Effect]]:
        """Count over `change.calendar` from now on. A pending working-day deadline that the change moves
        (and that has not passed: a passed deadline is never reopened) is recomputed, the audit trail says
        why, and whoever the latest email gave the old date is sent the new one."""
        if change.calendar.version == self.calendar.version:
            return f"{self.escalation_id} already counts over calendar {self.calendar.version}.", []
        old = self.calendar
        self.calendar = change.calendar
        self.touch()
        wait = self.wait
        if self.is_closed or wait is None or wait.deadline is None or not self.counts_working_days(wait):
            return f"{self.escalation_id} now counts over calendar {change.calendar.version}; no deadline moved.", []
        before = wait.deadline
        after = moved_deadline(old, change.calendar, before, now)
        if after == before:
            return f"{self.escalation_id} now counts over calendar {change.calendar.version}; its deadline stands.", []
        wait.deadline = after
        changed = change.changed_between(london_date(now), max(london_date(before), london_date(after)))
        added = [h for h in changed if change.calendar.is_holiday(h.day)]
        effects: list[Effect] = [
            AuditEffect(
                event="deadline_moved",
                actor=change.by,
                detail={
                    "wait": wait.purpose,
                    "from": before.isoformat(),
                    "to": after.isoformat(),
                    "why": "; ".join(
                        f"{h.day.isoformat()} {h.title} {'added' if h in added else 'withdrawn'} as a bank holiday"
                        for h in changed
                    )
                    or "the bank-holiday calendar was replaced",
                    "calendar": change.calendar.version,
                    "previous_calendar": old.version,
                },
            )
        ]
        if last_email is not None and any(describe_deadline(before) in p for p in last_email.paragraphs):
            what = wait.purpose.replace("_", " ")
            if added:
                because = "; ".join(f"{h.title}, {describe_day(h.day)}" for h in added)
                reason = f"A bank holiday has been announced ({because}), so the deadline moves on."
            else:
                reason = "The bank holidays have changed, so the deadline has moved."
            effects.append(
                self.email_to(
                    last_email.to,
                    last_email.to_role,
                    f"deadline-moved-{wait.purpose}-{london_date(after).isoformat()}",
                    f"New deadline for the {what}: {describe_deadline(after)}",
                    [
                        f"We asked for the {what} by {describe_deadline(before)}.",
                        reason,
                        f"The new deadline is {describe_deadline(after)}.",
                    ],
                    cc=last_email.cc,
                )
            )
        return (
            f"{self.escalation_id}: deadline moved from {describe_deadline(before)} to {describe_deadline(after)}.",
            effects,
        )

    def close_by_parent(self, reason: str) -> list[Effect]:
        """The larger escalation this belongs to was closed by the officer."""
        if self.is_closed:
            return []
        self.close("closed_by_officer")
        self.touch()
        return [AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome, "reason": reason})]

    def record_response(self, action: str, actor: str, detail: dict[str, Any]) -> AuditEffect:
        """A response resets the current wait's misses; the ladder level reached stays."""
        self.ladder.stalled = False
        self.touch()
        return AuditEffect(event=f"response:{action}", actor=actor, detail=detail)
