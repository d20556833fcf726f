"""Pathology error compensation (DOMAIN.md, kind 2): a lab error made work for many
practices. Collect each practice's workload return, claim compensation from the trust
(ICB copied), ask the ICB to recognise the impact at year-end reconciliation and the trust
to confirm its incident report, then pay each practice its share.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from domain import formatting, wording
from domain.calendar import LEGACY_CALENDAR, WorkingCalendar
from domain.confirmation import ConfirmationRequest
from domain.contacts import Contact, Lmc, Organisation
from domain.escalation import CURRENT_RULES, MONEY_AND_DATES, DeadlinePolicy, Effect
from domain.identifiers import FreeText, HeaderText, OdsCode, SafeEmail, named_twice
from domain.incident import ChildState, IncidentCase, StartChild, first_few
from domain.money import Pence, format_pence, how_to_write, rate_beyond_reason
from domain.practice_return import Practice, ReturnItem, ReturnRecord
from domain.report import ReportLine, spread
from domain.tables import ScheduleLine
from domain.working_days import (
    add_working_days,
    at_close_of_day,
    date_set_problem,
    describe_date,
    past_date_problem,
)

KIND = "pathology_error"
CLAIM = "claim"
YEAR_END = "year_end"
REPORT = "incident_report"
RATE_WRITTEN = how_to_write("rate_pence", 2500)
SCHEDULE_LIMIT = 1000
"""Schedule lines a claim carries (about 70 bytes each): beyond it the trust is told how many more there are."""


class TariffItem(BaseModel):
    key: str = Field(pattern=r"^[a-z_]+$")
    label: HeaderText = Field(min_length=1, max_length=120)
    rate_pence: Pence


class IncidentPractice(BaseModel):
    ods: OdsCode
    name: HeaderText = Field(min_length=1, max_length=200)
    contact_name: HeaderText = Field(min_length=1, max_length=200)
    contact_email: SafeEmail


class PathologyRequest(BaseModel):
    """What an officer submits (`starter.py start-pathology FILE`)."""

    title: HeaderText = Field(min_length=3, max_length=200)
    trust_code: str = Field(max_length=12)
    icb_code: str = Field(max_length=12)
    officer_email: SafeEmail
    service: HeaderText = Field(min_length=2, max_length=200)
    test: HeaderText = Field(min_length=2, max_length=200)
    error_start: date
    error_end: date
    description: FreeText = Field(min_length=3, max_length=4000)
    tariff: list[TariffItem] = Field(min_length=1)
    practices: list[IncidentPractice] = Field(min_length=1)
    return_deadline: date | None = None  # default: the policy's practice return days
    year_end_reconciliation_date: date

    @model_validator(mode="after")
    def _consistent(self) -> PathologyRequest:
        if self.error_end < self.error_start:
            raise ValueError("error_end: is before the error's first day; give the last day of the error")
        if (problem := named_twice([p.ods for p in self.practices])) is not None:
            raise ValueError(f"practices: {problem}")
        keys = [t.key for t in self.tariff]
        if len(keys) != len(set(keys)):
            raise ValueError("tariff: each key must appear once (two tariff items share one)")
        return self


class PathologyDetails(PathologyRequest):
    """The request as a running incident carries it: without its practices when the list is stored
    once outside Temporal (`IncidentCase.practices_stored`)."""

    practices: list[IncidentPractice] = Field(default_factory=list)

    @classmethod
    def of(cls, request: PathologyRequest, with_practices: bool = True) -> PathologyDetails:
        fields = {name: getattr(request, name) for name in PathologyRequest.model_fields}
        return cls.model_construct(**{**fields, "practices": fields["practices"] if with_practices else []})


def request_problems(
    request: PathologyRequest, calendar: WorkingCalendar, today: date | None = None, returns_due: date | None = None
) -> dict[str, str]:
    """What the money-and-dates rules refuse in a request, by field: a tariff rate of £0 (a rate is
    money owed per item), and a return deadline that is not a working day. Given `today` (at the start, not when
    a recorded run opens its case again): a deadline in the past, a rate beyond reason, and the dates only the start
    can judge (`returns_due`: when returns fall due if the request gives no deadline of its own)."""
    problems: dict[str, str] = {}
    for n, item in enumerate(request.tariff):
        if item.rate_pence <= 0:
            problems[f"tariff.{n}.rate_pence"] = (
                f"a rate must be more than £0.00 ({RATE_WRITTEN}); '{item.key}' has none"
            )
        elif today is not None and (beyond := rate_beyond_reason(item.rate_pence)) is not None:
            problems[f"tariff.{n}.rate_pence"] = f"{beyond}; '{item.key}' is a rate per item ({RATE_WRITTEN})"
    if request.return_deadline is not None:
        problem = date_set_problem(calendar, request.return_deadline, today, "a return deadline")
        if problem is not None:
            problems["return_deadline"] = problem
    if today is not None:
        problems |= _start_date_problems(request, calendar, today, request.return_deadline or returns_due)
    return problems


def _start_date_problems(
    request: PathologyRequest, calendar: WorkingCalendar, today: date, returns_due: date | None
) -> dict[str, str]:
    """Dates only the start can judge: the error happened (its window is not ahead of today), and the year-end
    reconciliation deadline is a working day still to come, after the returns are due."""
    problems: dict[str, str] = {}
    for field in ("error_start", "error_end"):
        problem = past_date_problem(
            getattr(request, field), today, "the error window is when the wrong results went out"
        )
        if problem is not None:
            problems[field] = problem
    year_end = request.year_end_reconciliation_date
    problem = date_set_problem(calendar, year_end, today, "the year-end reconciliation deadline")
    if problem is not None:
        problems["year_end_reconciliation_date"] = problem
    elif returns_due is not None and year_end <= returns_due:
        problems["year_end_reconciliation_date"] = (
            f"{describe_date(year_end)} is not after practices' returns are due ({describe_date(returns_due)}); "
            "the ICB's year-end deadline comes after the returns are in"
        )
    return problems


class PathologyCase(IncidentCase):
    request: PathologyDetails
    icb: Organisation
    agreed_pence: int | None = None
    item_totals: dict[str, int] = Field(default_factory=dict)
    _schedule: list[ScheduleLine] = PrivateAttr(default_factory=list)  # from the returns just loaded

    @classmethod
    def open(
        cls,
        escalation_id: str,
        request: PathologyRequest,
        practices: list[Practice],
        lmc: Lmc,
        officer: Contact,
        trust: Organisation,
        icb: Organisation,
        policy: DeadlinePolicy,
        now: datetime,
        rules: int = CURRENT_RULES,
        calendar: WorkingCalendar = LEGACY_CALENDAR,
        stored: tuple[int, list[str]] | None = None,
    ) -> tuple[PathologyCase, list[Effect]]:
        """Raises ValueError for what `request_problems` finds under the money-and-dates rules: the
        kind's builder refuses those first, naming the field, so a workflow never opens one.

        `stored`: the practice list is stored outside Temporal; its size, and its codes officers declared an
        interest in."""
        problems = request_problems(request, calendar) if rules >= MONEY_AND_DATES else {}
        if problems:
            raise ValueError("; ".join(f"{field}: {problem}" for field, problem in problems.items()))
        deadline = (
            at_close_of_day(request.return_deadline)
            if request.return_deadline
            else add_working_days(calendar, now, policy.practice_return_days)
        )
        case = cls(
            escalation_id=escalation_id,
            kind=KIND,
            title=request.title,
            lmc=lmc,
            officer=officer,
            payer=trust,
            policy=policy,
            status="collecting_returns",
            request=request if isinstance(request, PathologyDetails) else PathologyDetails.of(request),
            icb=icb,
            practices=practices,
            return_kind="counts",
            returns_deadline=deadline,
            returns_in_working_days=request.return_deadline is None,
            items=[ReturnItem(key=t.key, label=t.label, rate_pence=t.rate_pence) for t in request.tariff],
            rules=rules,
            calendar=calendar,
            as_of=now,
        )
        if stored is not None:
            case.store_practices(*stored)
        window = f"{request.error_start:%-d %B %Y} to {request.error_end:%-d %B %Y}"
        context = [("Trust", trust.name), ("Test", f"{request.test} ({request.service})"), ("Error window", window)]
        effects = case.begin(now, context)
        effects.append(
            case.ask(
                YEAR_END,
                icb,
                ConfirmationRequest(
                    topic=YEAR_END,
                    title=f"Recognise the {request.test} error at year-end reconciliation",
                    ask=[
                        f"{trust.name}'s {request.test} error ({window}) created inappropriate workload for "
                        f"{case.number_of_practices} practices. {request.description}",
                        "Please confirm that year-end reconciliation of enhanced services will include a mechanism to "
                        "recognise its impact on practices' achievement, or tell us that it will not, with reasons.",
                    ],
                    reference_label="Describe the mechanism",
                    may_refuse=True,
                    refusal_answered=True,
                    deadline_date=request.year_end_reconciliation_date,
                    facts=[("Incident", request.title), ("Error window", window)],
                ),
            )
        )
        effects.append(
            case.ask(
                REPORT,
                trust,
                ConfirmationRequest(
                    topic=REPORT,
                    title=f"Confirm the incident report on the {request.test} error was sent",
                    ask=[
                        f"The LMC asks {trust.name}, supported by {icb.name}, for its report on the {request.test} "
                        "error, including the learning on preventing and managing future problems.",
                        "Please confirm the report was sent, with its reference or address.",
                    ],
                    reference_label="Report reference or URL",
                    deadline_days=policy.response_days,
                    facts=[("Incident", request.title), ("Error window", window)],
                ),
            )
        )
        return case, effects

    def parties(self) -> set[str]:
        return {*super().parties(), self.icb.code.upper()}

    def claim_for(self, record: ReturnRecord) -> int:
        counts = record.counts or {}
        return sum(counts.get(t.key, 0) * t.rate_pence for t in self.request.tariff)

    def report_lines(self) -> list[ReportLine]:
        """The incident as one line: the trust, the test in error, practices that returned."""
        paid = sum(self.shares.values()) if self.practices_settled else 0
        return spread(
            KIND,
            self.payer.name,
            (self.request.error_start, self.request.error_end),
            [(f"pathology error: {self.request.test}", len(self.claimed), self.total_claimed)],
            self.agreed_pence or 0,
            paid,
        )

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Incident", self.title),
            ("Trust", self.payer.name),
            ("ICB", self.icb.name),
            ("Practices", str(self.number_of_practices)),
            ("Status", wording.status(self.status)),
        ]
        if not self.returns_open:
            facts.append(("Claimed", format_pence(self.total_claimed)))
            if self.late_returns:
                facts.append(("Late returns (not claimed)", first_few(self.late_returns, 20)))
        if self.agreed_pence is not None:
            facts.append(("Agreed", format_pence(self.agreed_pence)))
        terms = self.children[CLAIM].terms if CLAIM in self.children else None
        if terms:
            facts.append(("Terms agreed", terms))
        for topic, child in self.children.items():
            facts.append((wording.topic(topic), wording.outcome(child.outcome) if child.outcome else "open"))
        return facts + self.outcome_facts()

    def _claiming_words(self) -> str:
        """'2' or '2 (and 1 practice with nothing to claim)': a nil return is not a practice claiming."""
        nil = sum(1 for pence in self.claimed.values() if pence == 0)
        claiming = formatting.count(len(self.claimed) - nil)
        return claiming + (f" (and {formatting.counted(nil, 'practice')} with nothing to claim)" if nil else "")

    def after_returns(self, now: datetime) -> list[Effect]:
        self.status = "claiming"
        child_id = f"{self.escalation_id}-CLAIM"
        self.children[CLAIM] = ChildState(child_id=child_id)
        claimed = sorted(self.claimed.items())
        schedule = [(f"{ods}", format_pence(pence)) for ods, pence in claimed[:60]]
        return [
            StartChild(
                topic=CLAIM,
                child_id=child_id,
                parties=sorted(self.parties()),
                payer=self.payer,
                claimed_pence=self.total_claimed,
                schedule_items=[_priced(t.label, t.rate_pence) for t in self.request.tariff],
                schedule=self._schedule,
                claim_facts=[
                    ("Practices claiming", self._claiming_words()),
                    *(
                        (
                            f"{t.label.replace(' (example rate)', '')}, in all",
                            formatting.count(self.item_totals.get(t.key, 0)),
                        )
                        for t in self.request.tariff
                    ),
                    *([] if self._schedule else schedule),  # each practice's line is in the schedule itself
                    *(
                        [("…", f"{len(claimed) - 60} more practices")]
                        if len(claimed) > 60 and not self._schedule
                        else []
                    ),
                    *(
                        [
                            (
                                "…",
                                f"{len(claimed) - len(self._schedule)} more practices beyond the schedule's first lines",
                            )
                        ]
                        if self._schedule and len(claimed) > len(self._schedule)
                        else []
                    ),
                ],
            )
        ]

    def on_returns_loaded(self, records: list[ReturnRecord], now: datetime) -> list[Effect]:
        self._schedule = []
        return super().on_returns_loaded(records, now)

    def count_returns(self, on_time: list[ReturnRecord]) -> None:
        """Totals per tariff item, and the trust's schedule line for each practice claiming (a page at a time
        for a stored list); the schedule stops at SCHEDULE_LIMIT lines so no payload grows without bound."""
        self.item_totals = {
            t.key: self.item_totals.get(t.key, 0) + sum((r.counts or {}).get(t.key, 0) for r in on_time)
            for t in self.request.tariff
        }
        self._schedule.extend(self.schedule_of(on_time)[: max(0, SCHEDULE_LIMIT - len(self._schedule))])
        self._schedule.sort(key=lambda line: line.ods)

    def schedule_of(self, on_time: list[ReturnRecord]) -> list[ScheduleLine]:
        """The trust's payment schedule: each practice that returned on time, its counts and amount, by ODS code."""
        names = {p.ods: p.name for p in self.practices}
        return [
            ScheduleLine(
                ods=r.ods,
                name=names.get(r.ods) or getattr(r, "name", None) or r.ods,
                counts=[(r.counts or {}).get(t.key, 0) for t in self.request.tariff],
                pence=self.claim_for(r),
            )
            for r in sorted(on_time, key=lambda r: r.ods)
            if r.ods in self.claimed
        ]

    def after_child(self, topic: str, child: ChildState, now: datetime) -> list[Effect]:
        if topic != CLAIM:
            return []
        if child.outcome == "agreed" and child.amount_pence is not None:
            self.agreed_pence = child.amount_pence
            return self.pay_shares(
                child.amount_pence,
                child.on_date or now.date(),
                f"{self.payer.name} has agreed {format_pence(child.amount_pence)} compensation for the "
                f"{self.request.test} error; this is your practice's share, pro rata to its return.",
            )
        if self.money_and_dates:  # the officer withdrew it: practices are told, and it ends unpaid, never settled
            self.closes_as = "not_agreed"
        return self.pay_shares(0, now.date(), "The compensation claim closed without agreement: nothing is due.")


def _priced(label: str, rate_pence: int) -> str:
    """'Recall appointment at £25.00 (example rate)': a tariff item as a schedule's column heading."""
    example = " (example rate)"
    return f"{label.replace(example, '')} at {formatting.money(rate_pence)}" + (example if example in label else "")
