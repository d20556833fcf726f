"""What the two many-practice kinds share: an incident that collects a return from every
affected practice, runs requests to payers alongside, and pays each practice its share.

The incident itself holds little: practices run as their own cases (in cohorts), payers'
confirmations and claims as child cases. It decides what happens next from what they
report, and says so as commands its workflow carries out.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from domain import wording
from domain.calendar import CalendarChange, WorkingCalendar, legacy_calendar
from domain.confirmation import ConfirmationRequest
from domain.contacts import Organisation, Role
from domain.escalation import (
    LADDER_AND_TIES,
    LEGACY_RULES,
    AuditEffect,
    Command,
    Effect,
    EmailEffect,
    EscalationCase,
    ResponseRefused,
)
from domain.money import allocate_largest_remainder, format_pence, pro_rata_shares, share_of
from domain.negotiation import response_detail
from domain.practice_return import Practice, ReturnItem, ReturnRecord, ShareNotice
from domain.responses import FieldSpec, ResponseInput, ResponseOutcome
from domain.tables import ScheduleLine
from domain.working_days import at_close_of_day, describe_deadline, london_date, moved_deadline

EXTEND_RETURNS = "extend_returns"
CLOSE_RETURNS = "close_returns"
CLOSE_INCIDENT = "close_incident"
LABELS = {
    EXTEND_RETURNS: "Extend the return deadline",
    CLOSE_RETURNS: "Close returns now",
    CLOSE_INCIDENT: "Close the incident, with reasons",
}
DECLARE_INTEREST = "declare_interest"


class StartPractices(Command):
    """Start a case for every affected practice: those listed here, or (`stored`) the `practice_count`
    practices of the incident's list stored outside Temporal, which its cohorts read in chunks."""

    practices: list[Practice]
    practice_count: int = 0
    stored: bool = False
    return_kind: Literal["counts", "groups"]
    items: list[ReturnItem]
    returns_deadline: datetime
    context: list[tuple[str, str]]
    rules: int = LEGACY_RULES  # the incident's rules, which its practices run under
    calendar: WorkingCalendar = Field(default_factory=legacy_calendar)  # and its calendar
    window_start: date | None = None  # a deregistration's window: dates in a return lie within it
    cut_off: date | None = None


class TellPractices(Command):
    """Tell every practice's case something: extend, close returns, shares, or close."""

    message: Literal["extend", "close_returns", "shares", "close"]
    deadline: datetime | None = None
    shares: dict[str, ShareNotice] | None = None
    amounts: dict[str, int] | None = None  # a stored list's shares: each practice's amount in pence, 0 if absent
    notice: ShareNotice | None = None  # ... told with this notice (its amount replaced)
    reason: str | None = None


class LoadReturns(Command):
    """Read every practice's latest return; the case hears back through `on_returns_loaded`."""


class StartChild(Command):
    """Start a child case (a confirmation, or a claim) that reports back through `on_child_closed`."""

    topic: str
    child_id: str
    payer: Organisation
    confirmation: ConfirmationRequest | None = None
    parties: list[str] = Field(default_factory=list)
    claimed_pence: int | None = None
    claim_facts: list[tuple[str, str]] = Field(default_factory=list)
    schedule_items: list[str] = Field(default_factory=list)  # a claim's tariff items, in words with rates
    schedule: list[ScheduleLine] = Field(default_factory=list)  # a claim's per-practice lines


class CloseChildren(Command):
    reason: str


class ListedReturn(ReturnRecord):
    """A return read back beside its practice's entry in the incident's stored list."""

    position: int | None = None  # in the list, so in the cohort that runs the practice
    weighting: Decimal | None = None  # a deregistration practice's list weighting
    name: str | None = None  # the practice's name in the list, for the trust's schedule


class MissingReturns(BaseModel):
    """Listed practices that sent no return: how many, and the first few by code."""

    count: int
    first: list[str]


class ChildState(BaseModel):
    child_id: str
    outcome: str | None = None
    amount_pence: int | None = None
    on_date: date | None = None
    reference: str | None = None
    terms: str | None = None  # an agreed claim's terms (the accepted counter-offer's reasons)
    reasons: str | None = None  # a refusal's or a withdrawal's reasons


class TallyEntry(BaseModel):
    """One practice's money in an incident (`IncidentCase.tally_entries`): what it claimed, its share, whether its
    return came late, and where it sits in the stored list (so which cohort tells it)."""

    ods: str
    claimed_pence: int | None = None
    share_pence: int | None = None
    late: bool = False
    position: int | None = None


class IncidentCase(EscalationCase):
    practices: list[Practice] = Field(default_factory=list)  # empty when the list is stored (`practices_stored`)
    practices_stored: bool = False
    practice_count: int = 0  # of a stored list
    practice_parties: list[str] = Field(default_factory=list)  # a stored list's codes the LMC declared an interest in
    return_kind: Literal["counts", "groups"]
    items: list[ReturnItem] = Field(default_factory=list)
    returns_deadline: datetime
    returns_open: bool = True
    children: dict[str, ChildState] = Field(default_factory=dict)
    claimed: dict[str, int] = Field(default_factory=dict)  # per practice, pence, when returns close
    late_returns: list[str] = Field(default_factory=list)
    shares: dict[str, int] = Field(default_factory=dict)
    practices_settled: bool = False
    practice_outcomes: dict[str, int] = Field(default_factory=dict)  # how practices closed, counted
    closes_as: str = "settled"  # the outcome once everything is done: never "settled" when nothing was paid
    closing_reason: str | None = None
    returns_in_working_days: bool = False
    """The return deadline was counted in working days (the kind's default), not given by the officer: a
    bank holiday announced inside it moves it on. False in incidents recorded before this was kept."""

    # --- kinds decide --------------------------------------------------------------------
    def claim_for(self, record: ReturnRecord) -> int:
        """What one practice's return is worth, in pence."""
        raise NotImplementedError

    def after_returns(self, now: datetime) -> list[Effect]:
        """Returns are in and priced (`claimed`): ask the payer for the money."""
        raise NotImplementedError

    def after_child(self, topic: str, child: ChildState, now: datetime) -> list[Effect]:
        """A child case closed; kinds react to their own topics."""
        return []

    def groups_window(self) -> tuple[date, date] | None:
        """The first and last days a return's dates may fall on (a deregistration's window and cut-off)."""
        return None

    def must_wait_for(self) -> list[str]:
        """Child topics that must close before the incident closes by itself."""
        return [topic for topic, child in self.children.items() if child.outcome is None]

    def parties(self) -> set[str]:
        return {*super().parties(), *(p.ods for p in self.practices), *self.practice_parties}

    def contact_emails(self) -> list[str]:
        return [*super().contact_emails(), *(p.contact.email for p in self.practices)]

    # --- shared behaviour ---------------------------------------------------------------
    @property
    def number_of_practices(self) -> int:
        return self.practice_count if self.practices_stored else len(self.practices)

    def practice_codes(self) -> list[str]:
        """A stored list is searched through its practices' own requests, not carried here (at most thousands)."""
        return [] if self.practices_stored else super().practice_codes()

    def tally_entries(self, positions: dict[str, int]) -> list[TallyEntry]:
        """Each practice's money (`claimed`, `shares`, `late_returns`), by code: what a run writes outside its
        history before it continues as new, where the next reads it back (`restore_tallies`)."""
        late = set(self.late_returns)
        codes = sorted({*self.claimed, *self.shares, *late})
        return [
            TallyEntry(
                ods=ods,
                claimed_pence=self.claimed.get(ods),
                share_pence=self.shares.get(ods),
                late=ods in late,
                position=positions.get(ods),
            )
            for ods in codes
        ]

    def without_tallies(self) -> IncidentCase:
        """This case with its per-practice money left out: what continues as new once `tally_entries` are stored."""
        return self.model_copy(update={"claimed": {}, "shares": {}, "late_returns": []})

    def restore_tallies(self, entries: list[TallyEntry]) -> None:
        """Take back some of the entries `tally_entries` gave (a page at a time, in code order)."""
        for entry in entries:
            if entry.claimed_pence is not None:
                self.claimed[entry.ods] = entry.claimed_pence
            if entry.share_pence is not None:
                self.shares[entry.ods] = entry.share_pence
            if entry.late:
                self.late_returns.append(entry.ods)

    def store_practices(self, count: int, interested: list[str]) -> None:
        """The practice list lives outside the case (and outside Temporal): keep its size, and the codes
        among it that officers declared an interest in, for conflicts."""
        self.practices_stored = True
        self.practice_count = count
        self.practice_parties = sorted(interested)

    @property
    def total_claimed(self) -> int:
        return sum(self.claimed.values())

    def begin(self, now: datetime, context: list[tuple[str, str]]) -> list[Effect]:
        self.wait_until_date("returns", Role.PRACTICE, self.returns_deadline)
        window = self.groups_window()
        return [
            AuditEffect(
                event="incident_opened",
                actor=self.officer.email,
                detail={
                    "practices": self.number_of_practices,
                    "payer": self.payer.code,
                    "returns_deadline": self.returns_deadline.isoformat(),
                },
            ),
            StartPractices(
                practices=self.practices,
                practice_count=self.number_of_practices,
                stored=self.practices_stored,
                return_kind=self.return_kind,
                items=self.items,
                returns_deadline=self.returns_deadline,
                context=context,
                rules=self.rules,
                calendar=self.calendar,
                window_start=window[0] if window else None,
                cut_off=window[1] if window else None,
            ),
        ]

    def ask(self, topic: str, payer: Organisation, request: ConfirmationRequest) -> StartChild:
        child_id = f"{self.escalation_id}-{topic.upper().replace('_', '-')}"
        self.children[topic] = ChildState(child_id=child_id)
        return StartChild(
            topic=topic, child_id=child_id, payer=payer, confirmation=request, parties=sorted(self.parties())
        )

    def adopt_calendar(
        self, change: CalendarChange, now: datetime, last_email: EmailEffect | None
    ) -> tuple[str, list[Effect]]:
        """As every case; and a return deadline counted in working days that a new holiday puts later is
        moved, and every practice is told (as an extension: a deadline never comes sooner for them)."""
        old = self.calendar
        message, effects = super().adopt_calendar(change, now, last_email)
        if old.version == change.calendar.version or self.is_closed or not self.returns_open:
            return message, effects
        before = self.returns_deadline
        after = moved_deadline(old, change.calendar, before, now) if self.returns_in_working_days else before
        if after <= before:
            return message, effects
        self.returns_deadline = after
        self.wait_until_date("returns", Role.PRACTICE, after)
        changed = change.changed_between(london_date(now), london_date(after))
        effects += [
            AuditEffect(
                event="deadline_moved",
                actor=change.by,
                detail={
                    "wait": "returns",
                    "from": before.isoformat(),
                    "to": after.isoformat(),
                    "why": "; ".join(f"{h.day.isoformat()} {h.title} added as a bank holiday" for h in changed)
                    or "the bank-holiday calendar was replaced",
                    "calendar": change.calendar.version,
                    "previous_calendar": old.version,
                },
            ),
            TellPractices(message="extend", deadline=after),
        ]
        return (
            f"{self.escalation_id}: return deadline moved from {describe_deadline(before)} to {describe_deadline(after)}.",
            effects,
        )

    def next_timer(self) -> datetime | None:
        if self.is_closed:
            return None
        if self.returns_open:
            return self.returns_deadline
        return super().next_timer()  # an officer's decision the incident waits for, if any

    def on_timer(self, now: datetime) -> list[Effect]:
        if self.is_closed:
            return []
        if not self.returns_open:
            return self.on_deadline_missed(now)
        if now < self.returns_deadline:
            return []
        return [AuditEffect(event="returns_deadline_reached", actor="timer", detail={}), *self._close_returns()]

    def _close_returns(self) -> list[Effect]:
        self.returns_open = False
        self.status = "returns_closed"
        self.wait = None
        self.touch()
        return [TellPractices(message="close_returns")]

    def on_returns_closed_everywhere(self) -> list[Effect]:
        """Every practice has closed and stored its return: read them."""
        return [LoadReturns()]

    def count_returns(self, on_time: list[ReturnRecord]) -> None:
        """Kinds keep their own totals of returns as they are tallied (a page at a time for a stored list)."""

    def tally_returns(self, records: list[ReturnRecord]) -> None:
        """Price some returns: all at once (`on_returns_loaded`), or for a stored list a page per workflow task,
        so no task's work grows with the incident. A return after the close is recorded and flagged, not claimed."""
        known = None if self.practices_stored else {p.ods for p in self.practices}
        for r in records:
            if r.late:
                self.late_returns.append(r.ods)
            elif known is None or r.ods in known:
                self.claimed[r.ods] = self.claim_for(r)
        self.count_returns([r for r in records if not r.late])

    def on_returns_loaded(self, records: list[ReturnRecord], now: datetime) -> list[Effect]:
        """Every return at once (a practice list carried in the case)."""
        self.claimed, self.late_returns = {}, []
        self.tally_returns(records)
        known = {p.ods for p in self.practices}
        found = sorted(known - {r.ods for r in records})
        return self.on_returns_tallied(now, MissingReturns(count=len(found), first=found))

    def on_returns_tallied(self, now: datetime, stored_missing: MissingReturns) -> list[Effect]:
        """Every return is tallied; `stored_missing` says which listed practices sent none."""
        self.count_returns([])  # kinds' totals exist even when no page held a return
        self.late_returns = sorted(self.late_returns)
        missing = stored_missing.first
        self.touch()
        return [
            AuditEffect(
                event="returns_collected",
                actor="engine",
                detail={
                    "returned": len(self.claimed),
                    "missing": stored_missing.count,
                    "first_missing": missing[:50],
                    "total_pence": self.total_claimed,
                },
            ),
            self.email_officer(
                "returns-collected",
                "Returns closed",
                [
                    f"{len(self.claimed)} of {self.number_of_practices} practices returned, totalling "
                    f"{format_pence(self.total_claimed)}.",
                    *([f"No return from: {first_few(missing, 20, stored_missing.count)}."] if missing else []),
                ],
            ),
            *self.after_returns(now),
        ]

    def on_child_closed(self, topic: str, child: ChildState, now: datetime) -> list[Effect]:
        self.children[topic] = child
        self.touch()
        effects: list[Effect] = [
            AuditEffect(
                event="child_closed",
                actor="engine",
                detail={"topic": topic, "child": child.child_id, "outcome": child.outcome},
            )
        ]
        if self.is_closed and self.money_and_dates:
            return effects  # closed by the officer, who closed its requests: nothing more follows from them
        effects += self.after_child(topic, child, now)
        return effects + self._close_if_done()

    def on_practices_settled(
        self, outcomes: dict[str, str] | None = None, counted: dict[str, int] | None = None
    ) -> list[Effect]:
        """Every practice's case has closed; `outcomes` (by ODS code) says how, or `counted` (how many closed
        each way, as cohorts that report by signal tally them)."""
        self.practices_settled = True
        counted = dict(counted or {})
        for outcome in (outcomes or {}).values():
            counted[outcome] = counted.get(outcome, 0) + 1
        self.practice_outcomes = dict(sorted(counted.items()))
        self.touch()
        return [AuditEffect(event="practices_settled", actor="engine", detail={}), *self._close_if_done()]

    def no_money(self, status: str, headline: str, paragraphs: list[str], now: datetime) -> list[Effect]:
        """The payer will pay nothing: never a settlement. The incident waits for the officer's decision
        (closing it, with reasons); its practices are told nothing until then."""
        self.status = status
        self.wait_for("officer_decision", Role.OFFICER, self.policy.officer_reply_days, now)
        self.touch()
        return [
            AuditEffect(event=status, actor="engine", detail={}),
            self.email_officer(
                status,
                headline,
                [
                    *paragraphs,
                    "Nothing will be paid to practices. The incident stays open until you close it, with your "
                    f"reasons, by {describe_deadline(self.wait.deadline) if self.wait and self.wait.deadline else 'soon'}.",
                ],
            ),
        ]

    def outcome_facts(self) -> list[tuple[str, str]]:
        """How the practices' cases closed, once all have (paid in full, short, nothing due...)."""
        if not self.practice_outcomes:
            return []
        shown = ", ".join(f"{outcome.replace('_', ' ')}: {n}" for outcome, n in self.practice_outcomes.items())
        return [("Practices closed", shown)]

    def _close_if_done(self) -> list[Effect]:
        if self.is_closed or not self.practices_settled or self.must_wait_for():
            return []
        outcome = self.closes_as
        self.close(outcome)
        if outcome == "settled":
            told = self.email_officer("settled", "Incident settled and closed", ["Every practice has been settled."])
        else:
            told = self.email_officer(
                outcome,
                f"Incident closed: {outcome.replace('_', ' ')}",
                ["Every practice has been told nothing is due, and every request is closed; nothing was paid."],
            )
        return [AuditEffect(event="closed", actor="engine", detail={"outcome": outcome}), told]

    def pay_shares(self, pot: int, due: date, explanation: str) -> list[Effect]:
        """Each practice's share of `pot`: its claim if the pot covers every claim, else pro rata by
        claim with the largest remainders, so shares add up to the pot exactly."""
        total = self.total_claimed
        # Under LADDER_AND_TIES a tied penny goes to the lower ODS code: claims are allocated in code order, not
        # the order they were loaded in (a database's, or a run's that continued as new).
        if self.rules >= LADDER_AND_TIES:
            shares = pro_rata_shares(pot, self.claimed)
        else:
            shares = dict(self.claimed) if pot >= total else allocate_largest_remainder(pot, self.claimed)
        self.shares = shares
        if 0 < pot < total:  # said to every practice, with its share: why it is less than its claim
            explanation += (
                f" The {format_pence(pot)} is less than the {format_pence(total)} the practices claimed together, so "
                f"each is paid {share_of(pot, total)} of its claim."
            )
        self.status = "paying"
        self.touch()
        if self.practices_stored:  # each cohort makes its practices' notices: amounts here, and one notice
            tell = TellPractices(
                message="shares", amounts=shares, notice=ShareNotice(amount_pence=0, due=due, explanation=explanation)
            )
        else:
            notices = {
                p.ods: ShareNotice(amount_pence=shares.get(p.ods, 0), due=due, explanation=explanation)
                for p in self.practices
            }
            tell = TellPractices(message="shares", shares=notices)
        effects: list[Effect] = [
            AuditEffect(
                event="shares_allocated",
                actor="engine",
                detail={
                    "pot_pence": pot,
                    "total_claimed_pence": total,
                    "allocated_pence": sum(shares.values()),
                    "surplus_pence": max(pot - total, 0),
                },
            ),
            tell,
        ]
        if pot > total:
            effects.append(
                self.email_officer(
                    "surplus",
                    "Pot exceeds the total loss: surplus reported",
                    [
                        f"The pot of {format_pence(pot)} exceeds the {format_pence(total)} claimed. Practices are paid their "
                        f"claims; the surplus of {format_pence(pot - total)} is reported, not paid out.",
                    ],
                )
            )
        return effects

    # --- the officer's actions on the incident ---------------------------------------------
    def payer_actions(self) -> list[str]:
        return []

    def officer_actions(self) -> list[str]:
        actions = [EXTEND_RETURNS, CLOSE_RETURNS] if self.returns_open else []
        return [*actions, CLOSE_INCIDENT]

    def action_labels(self) -> dict[str, str]:
        return LABELS

    def action_fields(self) -> dict[str, list[FieldSpec]]:
        return {
            EXTEND_RETURNS: [FieldSpec("on_date", "New return deadline", "date", True)],
            CLOSE_RETURNS: [],
            CLOSE_INCIDENT: [FieldSpec("reasons", "Reasons", "text", True)],
        }

    def check(self, response: ResponseInput, now: datetime | None = None) -> None:
        self.check_actor(response)
        if response.action == EXTEND_RETURNS:
            if response.on_date is None:
                raise ResponseRefused("on_date: give the new return deadline.")
            if at_close_of_day(response.on_date) <= self.returns_deadline:
                raise ResponseRefused(
                    "on_date: the new deadline must be after the current one "
                    f"({describe_deadline(self.returns_deadline)})."
                )
            if self.money_and_dates:
                self.require_working_day("on_date", "a return deadline", response.on_date, now)
        if response.action == CLOSE_INCIDENT and not (response.reasons or "").strip():
            raise ResponseRefused("reasons: say why the incident is being closed.")

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        self.check(response, now)
        self.as_of = now
        audit = self.record_response(response.action, response.actor_email, response_detail(self.status, response))
        effects: list[Effect] = [audit]
        if response.action == EXTEND_RETURNS:
            assert response.on_date is not None
            self.returns_deadline = at_close_of_day(response.on_date)
            self.returns_in_working_days = False  # a date the officer gave: a new bank holiday never moves it
            self.wait_until_date("returns", Role.PRACTICE, self.returns_deadline)
            effects.append(TellPractices(message="extend", deadline=self.returns_deadline))
            message = f"Returns now close at {describe_deadline(self.returns_deadline)}."
        elif response.action == CLOSE_RETURNS:
            effects += self._close_returns()
            message = "Returns closed; the schedule is being prepared."
        else:
            open_items = self.must_wait_for()
            self.closing_reason = response.reasons
            self.close("closed_by_officer")
            if not self.practices_settled:
                effects.append(TellPractices(message="close", reason=response.reasons))
            effects += [
                CloseChildren(reason=response.reasons or ""),
                AuditEffect(
                    event="closed",
                    actor=response.actor_email,
                    detail={
                        "outcome": self.outcome,
                        "open_items": open_items,
                        "reasons": response.reasons,
                        **({"returns_open": True} if self.returns_open else {}),  # as the message says, on the record
                    },
                ),
            ]
            still = [wording.in_a_sentence(wording.topic(item)) for item in open_items]
            still += ["practices' returns"] if self.returns_open else []
            message = "The incident is closed." + (f" Still open were: {', '.join(still)}." if still else "")
        return ResponseOutcome(status=self.status, message=message), effects


def first_few(codes: list[str], shown: int, total: int | None = None) -> str:
    """A list for people: the first few, then how many more (of `total`, if more than listed)."""
    more = (len(codes) if total is None else total) - shown
    return ", ".join(codes[:shown]) + (f" and {more} more" if more > 0 else "")
