"""Pathfinder deregistration redistribution (DOMAIN.md, kind 3): patients were deregistered
from practices after an incident; the ICB promised a message to practices and to
redistribute capitation to the practices that lost patients.

Loss per practice = patients x weighting x annual rate per weighted patient x days lost / 365,
summed over the practice's groups, then rounded half up to the penny once per practice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from pydantic import BaseModel, Field, model_validator

from domain import wording
from domain.calendar import LEGACY_CALENDAR, WorkingCalendar
from domain.confirmation import ConfirmationRequest
from domain.contacts import Contact, Lmc, Organisation
from domain.escalation import CURRENT_RULES, DeadlinePolicy, Effect
from domain.identifiers import FreeText, HeaderText, OdsCode, SafeEmail, named_twice
from domain.incident import ChildState, IncidentCase, ListedReturn
from domain.money import format_pence
from domain.practice_return import Practice, ReturnRecord
from domain.report import ReportLine, spread
from domain.responses import DeregisteredGroup
from domain.working_days import add_working_days, describe_date, past_date_problem

KIND = "deregistration"
ROUNDING_RULE = "each practice's loss is rounded half up to the penny once, after summing its groups"


class CapitationRate(BaseModel):
    year: str = Field(pattern=r"^\d{4}/\d{2}$")
    pence_per_weighted_patient: int = Field(gt=0)
    note: str = ""


class AffectedPractice(BaseModel):
    ods: OdsCode
    name: HeaderText = Field(min_length=1, max_length=200)
    contact_name: HeaderText = Field(min_length=1, max_length=200)
    contact_email: SafeEmail
    weighting: Decimal = Field(default=Decimal("1.0"), gt=0, le=10, decimal_places=4)


class DeregistrationRequest(BaseModel):
    """What an officer submits (`starter.py start-deregistration FILE`)."""

    title: HeaderText = Field(min_length=3, max_length=200)
    icb_code: str = Field(max_length=12)
    officer_email: SafeEmail
    summary: FreeText = Field(default="", max_length=4000)
    rate_year: str = Field(pattern=r"^\d{4}/\d{2}$")
    incident_start: date | None = None  # the first day of the incident; default: the rate year's first day
    still_off_until: date
    practices: list[AffectedPractice] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_practices(self) -> DeregistrationRequest:
        if (problem := named_twice([p.ods for p in self.practices])) is not None:
            raise ValueError(f"practices: {problem}")
        if self.incident_start is not None and self.incident_start > self.still_off_until:
            raise ValueError(
                f"incident_start: {describe_date(self.incident_start)} is after the day patients still off are "
                f"counted to ({describe_date(self.still_off_until)}); give the first day of the incident, on or before it"
            )
        return self

    @property
    def rate_year_days(self) -> tuple[date, date]:
        """The rate year's first and last days: 1 April to 31 March."""
        first = int(self.rate_year[:4])
        return date(first, 4, 1), date(first + 1, 3, 31)

    @property
    def window(self) -> tuple[date, date]:
        """The days a deregistration can fall on: from the incident's start (by default the first day of the
        rate year, 1 April) to the cut-off, both included."""
        start = self.incident_start or self.rate_year_days[0]
        return start, self.still_off_until


def request_problems(request: DeregistrationRequest, today: date) -> dict[str, str]:
    """What the dates rules refuse in a request at the start, by field (never when a recorded run opens its case
    again): a cut-off before the rate year it is priced in begins, and an incident that starts after today. A
    cut-off ahead of today stands: an officer may claim to the year end for patients still off."""
    problems: dict[str, str] = {}
    start, cut_off = request.window
    year_ends = request.rate_year_days[1]
    if request.incident_start is None and cut_off < start:
        problems["still_off_until"] = (
            f"{describe_date(cut_off)} is before the rate year {request.rate_year} begins ({describe_date(start)}); "
            "give a cut-off in the rate year, or the day the incident began"
        )
    elif cut_off > year_ends:
        problems["still_off_until"] = (
            f"{describe_date(cut_off)} is after the rate year {request.rate_year} ends ({describe_date(year_ends)}); "
            "days off are priced at that year's rate, so give a cut-off in it"
        )
    began = request.incident_start
    if began is not None and (problem := past_date_problem(began, today, "give the day the incident began")):
        problems["incident_start"] = problem
    return problems


class DeregistrationDetails(DeregistrationRequest):
    """The request as a running incident carries it: without its practices when the list is stored
    once outside Temporal (`IncidentCase.practices_stored`; each stored entry keeps its weighting)."""

    practices: list[AffectedPractice] = Field(default_factory=list)

    @classmethod
    def of(cls, request: DeregistrationRequest, with_practices: bool = True) -> DeregistrationDetails:
        fields = {name: getattr(request, name) for name in DeregistrationRequest.model_fields}
        return cls.model_construct(**{**fields, "practices": fields["practices"] if with_practices else []})


def group_days(group: DeregisteredGroup, still_off_until: date, both_ends: bool = True) -> int:
    """Days a group was off the list. Still off: from the day of deregistration to the cut-off, both
    included (DOMAIN.md); a deregistration after the cut-off is refused, never counted as 0.
    `both_ends=False` is the count before the money-and-dates rules (the cut-off left out, and 0 after it)."""
    if group.still_off:
        assert group.off_since is not None
        if not both_ends:
            return max((still_off_until - group.off_since).days, 0)
        if group.off_since > still_off_until:
            raise ValueError(
                f"off_since: {describe_date(group.off_since)} is after the cut-off, {describe_date(still_off_until)}"
            )
        return (still_off_until - group.off_since).days + 1
    return group.days_off or 0


def capitation_loss(
    groups: list[DeregisteredGroup],
    weighting: Decimal,
    rate_pence: int,
    still_off_until: date,
    both_ends: bool = True,
) -> int:
    """Exact: a rational sum over the groups, rounded half up to the penny once."""
    weight = Fraction(weighting)
    exact = sum(
        (Fraction(g.patients) * weight * rate_pence * group_days(g, still_off_until, both_ends) / 365 for g in groups),
        Fraction(0),
    )
    return int((Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal(1), ROUND_HALF_UP))


class DeregistrationCase(IncidentCase):
    request: DeregistrationDetails
    rate: CapitationRate
    pot_pence: int | None = None

    @classmethod
    def open(
        cls,
        escalation_id: str,
        request: DeregistrationRequest,
        practices: list[Practice],
        rate: CapitationRate,
        lmc: Lmc,
        officer: Contact,
        icb: Organisation,
        policy: DeadlinePolicy,
        now: datetime,
        rules: int = CURRENT_RULES,
        calendar: WorkingCalendar = LEGACY_CALENDAR,
        stored: tuple[int, list[str]] | None = None,
    ) -> tuple[DeregistrationCase, list[Effect]]:
        """`stored`: the practice list is stored outside Temporal; its size, and its codes officers declared
        an interest in."""
        case = cls(
            escalation_id=escalation_id,
            kind=KIND,
            title=request.title,
            lmc=lmc,
            officer=officer,
            payer=icb,
            policy=policy,
            status="collecting_returns",
            request=request if isinstance(request, DeregistrationDetails) else DeregistrationDetails.of(request),
            rate=rate,
            practices=practices,
            return_kind="groups",
            returns_deadline=add_working_days(calendar, now, policy.practice_return_days),
            returns_in_working_days=True,
            rules=rules,
            calendar=calendar,
            as_of=now,
        )
        if stored is not None:
            case.store_practices(*stored)
        context = [
            ("ICB", icb.name),
            ("Capitation rate", f"{format_pence(rate.pence_per_weighted_patient)} per weighted patient ({rate.year})"),
        ]
        effects = case.begin(now, context)
        effects.append(
            case.ask(
                "icb_message",
                icb,
                ConfirmationRequest(
                    topic="icb_message",
                    title=f"Confirm the message to practices was sent: {request.title}",
                    ask=[
                        f"{icb.name} said it would write to practices on the outcome of {request.title}, on changes to the "
                        "registration of new patients, and on plans to redistribute capitation to practices whose patients "
                        "were deregistered. The LMC has not had confirmation that the message went out.",
                        "Please confirm that it was sent, with its date or reference.",
                    ],
                    reference_label="Date sent, or the message's reference",
                    deadline_days=policy.confirmation_days,
                    facts=[("Incident", request.title)],
                ),
            )
        )
        return case, effects

    def claim_for(self, record: ReturnRecord) -> int:
        if isinstance(record, ListedReturn) and record.weighting is not None:  # read beside the stored list
            weighting = record.weighting
        else:
            weighting = next((p.weighting for p in self.request.practices if p.ods == record.ods), Decimal(1))
        return capitation_loss(
            record.groups or [],
            weighting,
            self.rate.pence_per_weighted_patient,
            self.request.still_off_until,
            both_ends=self.money_and_dates,
        )

    def groups_window(self) -> tuple[date, date] | None:
        return self.request.window if self.money_and_dates else None

    def report_lines(self) -> list[ReportLine]:
        """The incident as one line, dated by the day patients still off the list are counted to."""
        paid = sum(self.shares.values()) if self.practices_settled else 0
        day = self.request.still_off_until
        return spread(
            KIND,
            self.payer.name,
            (day, day),
            [("deregistration: lost capitation", len(self.claimed), self.total_claimed)],
            min(self.pot_pence or 0, self.total_claimed),
            paid,
        )

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Incident", self.title),
            ("ICB", self.payer.name),
            ("Practices", str(self.number_of_practices)),
            ("Status", wording.status(self.status)),
            ("Rate", f"{format_pence(self.rate.pence_per_weighted_patient)} per weighted patient ({self.rate.year})"),
        ]
        if not self.returns_open:
            facts.append(("Total loss", format_pence(self.total_claimed)))
        if self.pot_pence is not None:
            facts.append(("Pot confirmed", format_pence(self.pot_pence)))
        for topic, child in self.children.items():
            facts.append((wording.topic(topic), wording.outcome(child.outcome) if child.outcome else "open"))
        return facts + self.outcome_facts()

    def after_returns(self, now: datetime) -> list[Effect]:
        self.status = "awaiting_pot"
        claimed = sorted(self.claimed.items())
        schedule = [(ods, format_pence(pence)) for ods, pence in claimed[:60]]
        return [
            self.ask(
                "pot",
                self.payer,
                ConfirmationRequest(
                    topic="pot",
                    title=f"Confirm the capitation pot for redistribution: {self.title}",
                    ask=[
                        f"Practices report capitation lost through deregistrations in {self.title}: "
                        f"{format_pence(self.total_claimed)} in total across {len(self.claimed)} practices, at "
                        f"{format_pence(self.rate.pence_per_weighted_patient)} per weighted patient ({self.rate.year}); "
                        f"{ROUNDING_RULE}.",
                        "Please confirm the pot the ICB will redistribute and the date it will pay practices"
                        + (", or refuse to pay, with your reasons." if self.money_and_dates else "."),
                    ],
                    amount_label="Pot for redistribution (£)",
                    date_label="Payment date",
                    may_refuse=self.money_and_dates,
                    refuse_label="Refuse to pay, with reasons" if self.money_and_dates else None,
                    deadline_days=self.policy.response_days,
                    expected_pence=self.total_claimed,
                    facts=[
                        ("Incident", self.title),
                        ("Total loss", format_pence(self.total_claimed)),
                        *schedule[:60],
                        *([("…", f"{len(claimed) - 60} more practices")] if len(claimed) > 60 else []),
                    ],
                ),
            )
        ]

    def after_child(self, topic: str, child: ChildState, now: datetime) -> list[Effect]:
        if (
            topic == "pot"
            and self.money_and_dates
            and (child.outcome == "refused" or (child.outcome == "confirmed" and not child.amount_pence))
        ):  # a pot of nothing is the ICB refusing to pay, not a settlement (DOMAIN.md)
            return self.no_money(
                "pot_refused",
                "The ICB refuses to pay: no pot for redistribution",
                [
                    f"{self.payer.name} has refused to redistribute capitation lost through {self.title}"
                    + (f": {child.reasons}" if child.reasons else "."),
                ],
                now,
            )
        if topic != "pot" or child.outcome != "confirmed" or child.amount_pence is None:
            return []
        self.pot_pence = child.amount_pence
        due = child.on_date or now.date()
        return self.pay_shares(
            child.amount_pence,
            due,
            f"{self.payer.name} is redistributing capitation lost through the deregistrations in {self.title}.",
        )
