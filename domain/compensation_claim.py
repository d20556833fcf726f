"""A claim for compensation from a trust for an incident's workload, with the ICB copied:
the shared negotiation, answered within the trust response time; agreement closes it
and the incident pays each practice its share.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from domain.calendar import LEGACY_CALENDAR, WorkingCalendar
from domain.contacts import Contact, Lmc, Organisation, Role
from domain.escalation import CURRENT_RULES, AuditEffect, DeadlinePolicy, Effect
from domain.money import format_pence, pro_rata_shares
from domain.negotiation import NegotiationCase, Status
from domain.responses import ResponseInput
from domain.tables import ScheduleLine, Table, schedule_table
from domain.working_days import at_close_of_day

KIND = "compensation_claim"


UNLISTED = "~unlisted"
"""The weight of practices a cut-short schedule does not list (after every ODS code, so ties go to the listed)."""


class CompensationClaimCase(NegotiationCase):
    icb: Organisation
    claim_facts: list[tuple[str, str]] = Field(default_factory=list)
    payment_due: datetime | None = None
    schedule_items: list[str] = Field(default_factory=list)  # the tariff items counted, in words
    schedule: list[ScheduleLine] = Field(default_factory=list)  # each practice's line

    @classmethod
    def open(
        cls,
        escalation_id: str,
        title: str,
        claimed_pence: int,
        claim_facts: list[tuple[str, str]],
        lmc: Lmc,
        officer: Contact,
        trust: Organisation,
        icb: Organisation,
        policy: DeadlinePolicy,
        now: datetime,
        rules: int = CURRENT_RULES,
        calendar: WorkingCalendar = LEGACY_CALENDAR,
    ) -> tuple[CompensationClaimCase, list[Effect]]:
        case = cls(
            escalation_id=escalation_id,
            kind=KIND,
            title=title,
            lmc=lmc,
            officer=officer,
            payer=trust,
            policy=policy,
            status=Status.SUBMITTED,
            claimed_pence=claimed_pence,
            icb=icb,
            claim_facts=claim_facts,
            rules=rules,
            calendar=calendar,
            as_of=now,
        )
        case.wait_for("acknowledgement", Role.PAYER, policy.acknowledgement_days, now)
        return case, [
            AuditEffect(
                event="submitted",
                actor=officer.email,
                detail={"payer": trust.code, "icb": icb.code, "claimed_pence": claimed_pence},
            ),
            case.email_payer(
                "submitted",
                f"Compensation claim: {title}",
                [
                    f"{lmc.name} claims {format_pence(claimed_pence)} compensation on behalf of the practices whose "
                    f"workload returns are scheduled below, for the work {trust.name}'s error created. "
                    f"{icb.name} is copied.",
                    f"Please acknowledge receipt by {case.deadline_text()}, using the link below, and respond in full "
                    f"within {policy.trust_response_days} working days of acknowledging.",
                ],
            ),
        ]

    def decision_days(self) -> int:
        return self.policy.trust_response_days

    def payer_cc(self) -> list[Contact]:
        return [*super().payer_cc(), self.icb.contact_at(1)]

    def parties(self) -> set[str]:
        return {*super().parties(), self.icb.code.upper()}

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Claim", self.title),
            ("Trust", self.payer.name),
            ("ICB (copied)", self.icb.name),
            *self.claim_facts,
            *self.money_facts(),
        ]
        if self.payment_due is not None:
            facts.append(("Payment expected by", f"{self.payment_due:%-d %B %Y}"))
        return facts

    def tables(self) -> list[Table]:
        """The per-practice payment schedule the trust is asked to pay (none on claims recorded before it): each
        practice's claim, or, once a lower sum is agreed, each practice's share of it, as the practices are told."""
        if not self.schedule:
            return []
        agreed = self.agreed_pence
        if agreed is None or agreed >= self.claimed_pence:
            caption, lines, total = "Payment schedule, practice by practice", self.schedule, self.claimed_pence
        else:
            claims = {line.ods: line.pence for line in self.schedule}
            unlisted = self.claimed_pence - sum(claims.values())  # a schedule cut short (`SCHEDULE_LIMIT`)
            shares = pro_rata_shares(agreed, {**claims, **({UNLISTED: unlisted} if unlisted > 0 else {})})
            caption = f"Payment schedule, practice by practice: the {format_pence(agreed)} agreed, shared pro rata"
            if unlisted > 0:
                caption += f" ({format_pence(shares[UNLISTED])} of it to practices not listed here)"
            lines = [line.model_copy(update={"pence": shares[line.ods]}) for line in self.schedule]
            total = agreed
        return [schedule_table(caption, self.schedule_items, lines, total)]

    def on_agreed(self, response: ResponseInput, now: datetime) -> str:
        if self.money_and_dates:  # a counter-offer's payment date carries into the agreement too
            self.payment_due = self.agreed_payment_due(response, now)
        elif response.on_date is not None and response.action == "accept":
            self.payment_due = at_close_of_day(response.on_date)
        else:
            self.payment_due = self.default_payment_date(now)
        self.close("agreed")
        return f"Agreed. Each practice is told its share, due by {self.payment_due:%-d %B %Y}."

    def on_deadline_missed(self, now: datetime) -> list[Effect]:
        """The shared ladder; when it stalls at the trust's top, the ICB is told as well."""
        was_stalled = self.ladder.stalled
        effects = super().on_deadline_missed(now)
        if self.ladder.stalled and not was_stalled:
            effects.append(
                self.email_to(
                    self.icb.contact_at(1),
                    Role.OBSERVER,
                    "stalled-icb-told",
                    f"{self.payer.name} has not responded to the compensation claim",
                    [
                        f"The LMC's claim for {self.title} has had no response from {self.payer.name}, even from "
                        f"its {self.payer_contact.title}. The LMC asks the ICB, as commissioner, to intervene.",
                    ],
                )
            )
        return effects
