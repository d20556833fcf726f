"""One practice's part in an incident: its return (counts per tariff item, or groups of
deregistered patients), reminders before the deadline, a late return flagged rather than
lost, then its share of the money and its confirmation of receipt.

Each practice runs on its own, so one practice's stuck return never holds the others.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain import formatting, payment, wording
from domain.contacts import Contact, Role
from domain.escalation import AuditEffect, Command, Effect, EscalationCase, ResponseRefused
from domain.identifiers import HeaderText, OdsCode
from domain.money import Pence, format_pence
from domain.responses import DeregisteredGroup, FieldSpec, ResponseInput, ResponseOutcome
from domain.working_days import (
    add_working_days,
    at_close_of_day,
    describe_date,
    describe_deadline,
    morning_of_working_days_before,
)

KIND = "practice_return"
SUBMIT_RETURN = "submit_return"
CONFIRM_RECEIPT = "confirm_receipt"
CORRECT_RECEIPT = "correct_receipt"
LABELS = {
    SUBMIT_RETURN: "Send (or correct) your return",
    CONFIRM_RECEIPT: "Confirm the payment was received",
    CORRECT_RECEIPT: "Correct the amount you confirmed",
    **payment.LABELS,
}
REMINDER_DAYS_BEFORE = (5, 2, 0)


class Practice(BaseModel):
    ods: OdsCode
    name: HeaderText = Field(min_length=1, max_length=200)
    contact: Contact
    weighting: Decimal | None = Field(default=None, gt=0, le=10, decimal_places=4)
    """A deregistration practice's list weighting, read with it from the incident's stored list: shown to the
    practice beside the rate per weighted patient, so it can check its share."""


class ReturnItem(BaseModel):
    """A tariff item a practice counts, e.g. recall appointments at 2,500p each."""

    key: str = Field(pattern=r"^[a-z_]+$")
    label: str
    rate_pence: Pence = 0


class ReturnRecord(BaseModel):
    """A practice's return as the incident sees it when returns close."""

    ods: str
    counts: dict[str, int] | None = None
    groups: list[DeregisteredGroup] | None = None
    late: bool = False
    corrections: int = 0


def check_groups(groups: list[DeregisteredGroup], window_start: date, cut_off: date) -> None:
    """Dates in a deregistration return lie within the incident's window, up to its cut-off, and no group
    was off the list for longer than the window lasts (DOMAIN.md 'Days off a list')."""
    window = f"from {describe_date(window_start)} to {describe_date(cut_off)}"
    longest = (cut_off - window_start).days + 1
    for n, group in enumerate(groups):
        if group.off_since is not None and not window_start <= group.off_since <= cut_off:
            where = "after the cut-off" if group.off_since > cut_off else "before the incident"
            raise ResponseRefused(
                f"groups.{n}.off_since: {describe_date(group.off_since)} is {where}; give the date the group was "
                f"deregistered, {window}."
            )
        if group.days_off is not None and group.days_off > longest:
            raise ResponseRefused(
                f"groups.{n}.days_off: {group.days_off} days is longer than the incident ({longest} days, {window}); "
                f"give the days off the list, 1 to {longest}."
            )


class ShareNotice(BaseModel):
    amount_pence: int = Field(ge=0)
    due: date
    explanation: str


SAME_RETURN = (
    "This is the return already recorded, to the number, so nothing has changed and nothing was recorded. To "
    "correct it, change the numbers that are wrong and send it again."
)
ON_TIME_RETURN_STANDS = (
    "Returns have closed, and the return you sent in time stands: the claim is made from it. To change it now, "
    "reply to the LMC officer's email."
)
LATE_RETURN_WORDS = (
    "Returns have closed. A return sent now is recorded and flagged late for the LMC officer, and is not part of "
    "the claim already made."
)


class PracticeCase(EscalationCase):
    practice: Practice
    parent_id: str
    return_kind: Literal["counts", "groups"]
    items: list[ReturnItem] = Field(default_factory=list)
    returns_deadline: datetime
    reminders_sent: list[int] = Field(default_factory=list)
    counts: dict[str, int] | None = None
    groups: list[DeregisteredGroup] | None = None
    late: bool = False
    corrections: int = 0
    share_pence: int | None = None
    received_pence: int | None = None  # under the money-and-dates rules, everything received so far
    last_receipt_pence: int | None = None  # what the practice's latest confirmation added: what a correction replaces
    difference_reasons: str | None = None
    payment_due: datetime | None = None
    context: list[tuple[str, str]] = Field(default_factory=list)
    window_start: date | None = None  # a deregistration return's dates lie within these (new rules only)
    cut_off: date | None = None

    # --- what is open -------------------------------------------------------------------
    @property
    def has_returned(self) -> bool:
        return self.counts is not None or self.groups is not None

    def parties(self) -> set[str]:
        return {*super().parties(), self.practice.ods}

    def contact_emails(self) -> list[str]:
        return [self.practice.contact.email, *super().contact_emails()]

    def amounts(self) -> tuple[int, int, int]:
        """A practice's part is in its incident's report; listed, it shows its share and what it received."""
        return 0, self.share_pence or 0, self.received_pence or 0

    def practice_actions(self) -> list[str]:
        if self.status in ("awaiting_return", "returned", "returns_closed"):
            return [SUBMIT_RETURN]
        if self.status == "share_notified":
            return [CONFIRM_RECEIPT]
        if self.status in (payment.UNDERPAID, payment.OVERPAID) and self.last_receipt_pence is not None:
            return [CORRECT_RECEIPT]  # a slip in the amount it typed, while the LMC decides about the difference
        return []

    def payer_actions(self) -> list[str]:
        return []

    def officer_actions(self) -> list[str]:
        return payment.resolving_actions(self.status)

    def action_labels(self) -> dict[str, str]:
        return LABELS

    def payment_gap(self) -> int | None:
        return payment.gap(self.received_pence, self.share_pence)

    def outstanding_pence(self) -> int:
        return payment.outstanding(self.received_pence, self.share_pence)

    def action_fields(self) -> dict[str, list[FieldSpec]]:
        if self.return_kind == "counts":
            fields = [FieldSpec(f"count.{i.key}", self._item_label(i), "count", True) for i in self.items]
        else:
            fields = [FieldSpec("groups", "Patients deregistered because of the incident, by days off", "groups", True)]
        return {
            SUBMIT_RETURN: fields,
            CONFIRM_RECEIPT: [FieldSpec("amount", "Amount received (£, optional)", "money")],
            CORRECT_RECEIPT: [FieldSpec("amount", "Amount that arrived with that payment (£)", "money", True)],
            **payment.FIELDS,
        }

    def _status_words(self) -> str:
        """'return received (late)'; a return taken after returns closed says so, not 'returns closed (late)'."""
        if self.late and self.status == "returns_closed":
            return "return received late, after returns closed"
        return wording.status(self.status) + (" (late)" if self.late else "")

    def facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Reference", self.escalation_id),
            ("Incident", self.title),
            *self.context,
            ("Who pays", self.payer.name),
            ("Practice", f"{self.practice.name} ({self.practice.ods})"),
            *(
                [("Your list weighting", formatting.decimal_number(self.practice.weighting))]
                if self.practice.weighting
                else []
            ),
            ("Return due by", describe_deadline(self.returns_deadline)),
            ("Status", self._status_words()),
        ]
        if self.return_kind == "groups" and self.window_start is not None and self.cut_off is not None:
            facts.insert(
                -2, ("Days off counted", f"{describe_date(self.window_start)} to {describe_date(self.cut_off)}")
            )
        if self.status == "returns_closed" and not self.has_returned:  # said before a practice sends it, not after
            facts.append(("Returns", LATE_RETURN_WORDS))
        elif self.on_time_return_stands:
            facts.append(("Returns", ON_TIME_RETURN_STANDS))
        if self.counts is not None:
            labels = {item.key: item.label for item in self.items}
            facts.append(
                (
                    "Your return",
                    "; ".join(f"{labels.get(k, k.replace('_', ' '))}: {v:,}" for k, v in self.counts.items()),
                )
            )
        if self.groups is not None:
            facts.append(("Your return", "; ".join(_describe_group(g) for g in self.groups)))
        if self.share_pence is not None:
            facts.append(("Your share", format_pence(self.share_pence)))
            facts += payment.gap_facts(self.share_pence, self.received_pence)
        if self.difference_reasons:
            facts.append(("Difference accepted", self.difference_reasons))
        if self.payment_due is not None:
            facts.append(("Payment due by", describe_deadline(self.payment_due)))
        return facts

    # --- timers: reminders before the deadline, then overdue payment --------------------
    def next_timer(self) -> datetime | None:
        if self.status == "awaiting_return":
            pending = [d for d in REMINDER_DAYS_BEFORE if d not in self.reminders_sent]
            return morning_of_working_days_before(self.calendar, self.returns_deadline, pending[0]) if pending else None
        return super().next_timer()

    def on_timer(self, now: datetime) -> list[Effect]:
        if self.status in (payment.UNDERPAID, payment.OVERPAID):
            return self.on_deadline_missed(now)  # the officer's decision: a reminder, then overdue
        if self.status != "awaiting_return":
            return self.on_payment_overdue(now)
        due = [
            d
            for d in REMINDER_DAYS_BEFORE
            if d not in self.reminders_sent
            and morning_of_working_days_before(self.calendar, self.returns_deadline, d) <= now
        ]
        if not due:
            return []
        self.reminders_sent.extend(due)
        self.touch()
        when = "today" if min(due) == 0 else f"in {min(due)} working days"
        return [
            AuditEffect(
                event="return_reminder", actor="timer", detail={"ods": self.practice.ods, "days_before": min(due)}
            ),
            self.email_practice(
                f"return-reminder-{min(due)}",
                f"Reminder: your workload return is due {when}",
                [
                    f"We have not yet had {self.practice.name}'s return for {self.title}.",
                    f"It is due by {describe_deadline(self.returns_deadline)}. Counts only: no patient details.",
                ],
            ),
        ]

    def on_payment_overdue(self, now: datetime) -> list[Effect]:
        wait = self.wait
        if wait is None or wait.deadline is None or now < wait.deadline:
            return []
        wait.misses += 1
        self.touch()
        effects: list[Effect] = [
            AuditEffect(
                event="payment_overdue", actor="timer", detail={"ods": self.practice.ods, "misses": wait.misses}
            )
        ]
        if wait.misses == 1:
            wait.deadline = add_working_days(self.calendar, now, self.policy.reminder_grace_days)
            wait.in_working_days = True
            effects.append(
                self.email_practice(
                    "payment-check",
                    "Has your payment arrived?",
                    [
                        f"Your share of {format_pence(self.share_pence or 0)} was due by "
                        f"{describe_deadline(self.payment_due or now)}.",
                        "If it has arrived, please confirm through the link. If not, the LMC is chasing it.",
                    ],
                )
            )
        else:
            wait.deadline = None
        effects.append(
            self.email_officer(
                f"payment-overdue-{wait.misses}",
                "Practice payment overdue",
                [
                    f"{self.practice.name} ({self.practice.ods}) has not confirmed receipt of "
                    f"{format_pence(self.share_pence or 0)} due by {describe_deadline(self.payment_due or now)}.",
                ],
            )
        )
        return effects

    def email_practice(self, purpose: str, headline: str, paragraphs: list[str]) -> Any:
        return self.email_to(self.practice.contact, Role.PRACTICE, purpose, headline, paragraphs)

    # --- what the parent incident tells the practice -------------------------------------
    def opening(self) -> list[Effect]:
        return [
            AuditEffect(event="return_requested", actor="engine", detail={"ods": self.practice.ods}),
            self.email_practice(
                "return-requested",
                f"{'Deregistration' if self.return_kind == 'groups' else 'Workload'} return requested: {self.title}",
                [
                    f"{self.lmc.name} is collecting returns from practices affected by {self.title}.",
                    *self._what_to_count(),
                    f"Please send {self.practice.name}'s return by {describe_deadline(self.returns_deadline)}, "
                    "through the link below. Counts only: never patient details.",
                ],
            ),
        ]

    def _what_to_count(self) -> list[str]:
        """For a deregistration return, the period it counts: what the practice needs to give its groups right."""
        if self.return_kind != "groups" or self.window_start is None or self.cut_off is None:
            return []
        return [
            f"Count the patients deregistered because of it, in groups by the days each was off the list, from "
            f"{describe_date(self.window_start)}; a patient still off the list is counted to "
            f"{describe_date(self.cut_off)}."
        ]

    def extend(self, deadline: datetime) -> list[Effect]:
        if self.is_closed or self.status not in ("awaiting_return", "returned"):
            return []
        self.returns_deadline = deadline
        self.reminders_sent = []
        self.touch()
        effects: list[Effect] = [
            AuditEffect(
                event="return_deadline_extended",
                actor="engine",
                detail={"ods": self.practice.ods, "deadline": deadline.isoformat()},
            )
        ]
        if not self.has_returned:
            effects.append(
                self.email_practice(
                    "return-extended",
                    "More time for your workload return",
                    [
                        f"The deadline for returns is now {describe_deadline(deadline)}.",
                    ],
                )
            )
        return effects

    def close_returns(self) -> list[Effect]:
        """Close returns and acknowledge: the acknowledgement follows any return still being
        stored, so the incident reads returns only once every practice's is in place."""
        if self.status not in ("awaiting_return", "returned"):
            return [AcknowledgeReturnsClosed(ods=self.practice.ods)]
        self.status = "returns_closed"
        self.touch()
        return [
            AuditEffect(
                event="returns_closed", actor="engine", detail={"ods": self.practice.ods, "returned": self.has_returned}
            ),
            AcknowledgeReturnsClosed(ods=self.practice.ods),
        ]

    def notify_share(self, notice: ShareNotice, now: datetime) -> list[Effect]:
        if self.is_closed:
            return []
        self.share_pence = notice.amount_pence
        self.touch()
        if notice.amount_pence == 0:
            self.close("nothing_due")
            return [AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome})]
        self.status = "share_notified"
        self.payment_due = at_close_of_day(notice.due)
        self.wait_until_date("payment", Role.PRACTICE, self.payment_due)
        return [
            AuditEffect(
                event="share_notified",
                actor="engine",
                detail={"ods": self.practice.ods, "amount_pence": notice.amount_pence},
            ),
            self.email_practice(
                "share-notified",
                f"Your share: {format_pence(notice.amount_pence)}",
                [
                    notice.explanation,
                    f"{self.payer.name} is to pay {self.practice.name} (ODS code {self.practice.ods}) "
                    f"{format_pence(notice.amount_pence)} by {describe_deadline(self.payment_due)}. "
                    "Please confirm through the link when it arrives.",
                ],
            ),
        ]

    def record(self) -> ReturnRecord:
        return ReturnRecord(
            ods=self.practice.ods, counts=self.counts, groups=self.groups, late=self.late, corrections=self.corrections
        )

    # --- the practice's own responses ----------------------------------------------------
    def check(self, response: ResponseInput, now: datetime | None = None) -> None:
        self.check_actor(response)
        if response.actor_role is Role.PRACTICE and response.actor_email != self.practice.contact.email:
            raise ResponseRefused(f"{response.actor_email} is not the contact for {self.practice.ods}.")
        payment.check_resolution(response)
        if self.money_and_dates:
            if response.action == SUBMIT_RETURN and response.groups and self.window_start and self.cut_off:
                check_groups(response.groups, self.window_start, self.cut_off)
            if response.action == CONFIRM_RECEIPT:
                payment.check_received(response, self.outstanding_pence())
            if response.action == CORRECT_RECEIPT:
                payment.check_corrected(response)
            if response.action == payment.CHASE_BALANCE and response.on_date is not None:
                self.require_working_day("on_date", "the date the rest is to be paid by", response.on_date, now)
        if response.action == SUBMIT_RETURN:
            if self.return_kind == "counts":
                counts = response.counts or {}
                missing = [i.key for i in self.items if i.key not in counts]
                unknown = sorted(set(counts) - {i.key for i in self.items})
                if missing:
                    raise ResponseRefused(f"counts.{missing[0]}: give a count (0 if none).")
                if unknown:
                    raise ResponseRefused(f"counts.{unknown[0]}: not an item of this incident's tariff.")
            elif not response.groups:
                raise ResponseRefused("groups: give at least one group of patients.")

    def check_as_sent(self, response: ResponseInput) -> None:
        """A correction sent after returns closed, of a return sent in time, is refused: the claim is made from
        the one in time, and a late one in its place would have been stored over it and left out of the tally."""
        if response.action == SUBMIT_RETURN and self.on_time_return_stands:
            raise ResponseRefused(ON_TIME_RETURN_STANDS)
        if response.action == SUBMIT_RETURN and self.has_returned and self._as_recorded(response):
            raise ResponseRefused(SAME_RETURN)

    def _as_recorded(self, response: ResponseInput) -> bool:
        """`response` gives the return already recorded, to the number: no correction at all."""
        if self.return_kind == "counts":
            return dict(response.counts or {}) == (self.counts or {})
        return list(response.groups or []) == (self.groups or [])

    def actions_offered(self, role: Role) -> list[str]:
        """No return form once returns have closed with one sent in time: a correction would be refused."""
        actions = self.actions_for(role)
        return [a for a in actions if a != SUBMIT_RETURN] if self.on_time_return_stands else actions

    @property
    def on_time_return_stands(self) -> bool:
        """Returns have closed with this practice's return, sent in time, the one its claim is made from."""
        return self.status == "returns_closed" and self.has_returned and not self.late

    def apply(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        self.check(response, now)
        self.as_of = now
        if response.action in (CONFIRM_RECEIPT, CORRECT_RECEIPT) and self.money_and_dates:
            return self._receipt(response, now)
        if response.action == payment.CHASE_BALANCE:
            return self._chase_balance(response, now)
        if response.action in (payment.ACCEPT_SHORTFALL, payment.ACCEPT_OVERPAYMENT):
            return self._accept_difference(response)
        if response.action == CONFIRM_RECEIPT:
            audit = self.record_response(
                CONFIRM_RECEIPT,
                response.actor_email,
                {
                    "ods": self.practice.ods,
                    "amount_pence": response.amount_pence,
                },
            )
            self.close("paid")
            return ResponseOutcome(status="paid", message="Thank you: receipt confirmed."), [
                audit,
                AuditEffect(event="closed", actor="engine", detail={"outcome": "paid"}),
            ]
        correcting = self.has_returned
        late = self.status == "returns_closed"
        self.counts = dict(response.counts) if self.return_kind == "counts" and response.counts else None
        self.groups = list(response.groups) if self.return_kind == "groups" and response.groups else None
        self.corrections += 1 if correcting else 0
        self.late = self.late or late
        if not late:
            self.status = "returned"
        detail: dict[str, Any] = {"ods": self.practice.ods, "late": late, "correction": correcting}
        if self.counts is not None:
            detail["counts"] = self.counts
        if self.groups is not None:
            detail["groups"] = [g.model_dump() for g in self.groups]
        effects: list[Effect] = [
            self.record_response(SUBMIT_RETURN, response.actor_email, detail),
            ReturnEffect(parent_id=self.parent_id, record=self.record()),
        ]
        if late:
            message = "Recorded, but after returns closed: it is flagged late and the LMC has been told."
            effects.append(
                self.email_officer(
                    "late-return",
                    f"Late return from {self.practice.ods}",
                    [
                        f"{self.practice.name} sent its return after returns closed. It is recorded and flagged late.",
                    ],
                )
            )
        else:
            message = f"{'Correction' if correcting else 'Return'} recorded. You can correct it until returns close."
        return ResponseOutcome(status=self.status, message=message), effects

    # --- paid against the share (money-and-dates rules) ------------------------------------
    def _receipt(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        """A payment confirmed, or (`CORRECT_RECEIPT`) the amount of the latest confirmation corrected: it replaces
        what that one added, and the share is weighed again."""
        share = self.share_pence or 0
        received = response.amount_pence if response.amount_pence is not None else self.outstanding_pence()
        replaced = (self.last_receipt_pence or 0) if response.action == CORRECT_RECEIPT else 0
        self.received_pence = (self.received_pence or 0) - replaced + received
        self.last_receipt_pence = received
        gap = self.received_pence - share
        detail: dict[str, object] = {"ods": self.practice.ods, "amount_pence": response.amount_pence}
        if replaced:
            detail["replaces_pence"] = replaced
        audit = self.record_response(response.action, response.actor_email, detail)
        status = payment.gap_status(gap)
        practice = f"{self.practice.name} ({self.practice.ods})"
        if status is None:
            self.close(payment.PAID)
            closed: list[Effect] = [
                audit,
                AuditEffect(event="closed", actor="engine", detail={"outcome": payment.PAID}),
            ]
            if replaced:  # the officer was asked about a difference that no longer is: told it is settled
                closed.append(
                    self.email_officer(
                        "receipt-corrected",
                        f"{self.practice.ods} received its share in full: no decision needed",
                        [
                            f"{practice} corrects the payment it confirmed to {format_pence(received)}, so it has "
                            f"received its share of {format_pence(share)} in full.",
                            "Its case is closed, paid: nothing is needed from you about the difference it reported.",
                        ],
                    )
                )
            return ResponseOutcome(status=payment.PAID, message="Thank you: receipt confirmed."), closed
        self.status = status
        self.wait_for("payment_decision", Role.OFFICER, self.policy.officer_reply_days, now)
        gap_text = payment.describe_gap(share, self.received_pence)
        choice = payment.next_step(gap)
        message = f"Recorded: {gap_text}. The LMC has been told and will decide whether to {choice}."
        differs = f"{format_pence(abs(gap))} {'less' if gap < 0 else 'more'} than its share"
        said = (
            f"{practice} corrects the payment it confirmed to {format_pence(received)}: it has now received "
            if replaced
            else f"{practice} confirms it has received "
        )
        return ResponseOutcome(status=self.status, message=message), [
            audit,
            AuditEffect(
                event=status,
                actor="engine",
                detail={
                    "ods": self.practice.ods,
                    "share_pence": share,
                    "received_pence": self.received_pence,
                    "gap_pence": gap,
                },
            ),
            self.email_officer(
                status,
                f"{self.practice.ods} was paid {differs}: {gap_text}",
                [
                    f"{said}{format_pence(self.received_pence)} against its share of {format_pence(share)}: {differs}.",
                    f"Its case stays open: please {choice} by {self.deadline_text()}.",
                ],
            ),
        ]

    def _chase_balance(self, response: ResponseInput, now: datetime) -> tuple[ResponseOutcome, list[Effect]]:
        audit = self.record_response(response.action, response.actor_email, {"ods": self.practice.ods})
        due = self.payment_date(response.on_date, now)
        rest = format_pence(self.outstanding_pence())
        self.status = "share_notified"
        self.payment_due = due
        self.wait_until_date("payment", Role.PRACTICE, due)
        received = format_pence(self.received_pence or 0)
        share = format_pence(self.share_pence or 0)
        return ResponseOutcome(
            status=self.status, message=f"Chasing the rest: {rest}, due by {self.deadline_text()}."
        ), [
            audit,
            self.email_to(
                self.payer.contact_at(1),
                Role.PAYER,
                "balance-chased",
                f"{self.practice.ods}: the rest of its share, {rest}, is outstanding",
                [
                    f"{self.practice.name} ({self.practice.ods}) has received {received} of its {share} share.",
                    f"Please pay the remaining {rest} by {self.deadline_text()}.",
                ],
                [self.officer],
            ),
            self.email_practice(
                "balance-chased",
                f"The LMC is chasing the rest of your share: {rest}",
                [
                    f"You have received {received} of your {share} share; the LMC has asked {self.payer.name} for the "
                    f"remaining {rest} by {self.deadline_text()}.",
                    "Please confirm through the link when it arrives.",
                ],
            ),
        ]

    def _accept_difference(self, response: ResponseInput) -> tuple[ResponseOutcome, list[Effect]]:
        gap = self.payment_gap() or 0
        audit = self.record_response(
            response.action, response.actor_email, {"ods": self.practice.ods, "reasons": response.reasons}
        )
        self.difference_reasons = response.reasons
        self.close(payment.PAID_SHORT if gap < 0 else payment.PAID_OVER)
        accepted = payment.describe_gap(self.share_pence or 0, self.received_pence or 0)
        return ResponseOutcome(status=self.status, message=f"Accepted: {accepted}. The practice's case is closed."), [
            audit,
            self.email_practice(
                "difference-accepted",
                "The LMC accepts the payment as made",
                [f"{accepted}. The LMC accepts it: {response.reasons}", "Nothing more is needed from you."],
            ),
            AuditEffect(event="closed", actor="engine", detail={"outcome": self.outcome}),
        ]

    def deadline_text(self) -> str:
        if self.wait is None or self.wait.deadline is None:
            return "no deadline"
        return describe_deadline(self.wait.deadline)

    @staticmethod
    def _item_label(item: ReturnItem) -> str:
        return f"{item.label} ({format_pence(item.rate_pence)} each)" if item.rate_pence else item.label


def _describe_group(group: DeregisteredGroup) -> str:
    """'12 patients, 30 days off'; '1 patient, still off since 1 February 2025'."""
    if group.still_off:
        since = f" since {describe_date(group.off_since)}" if group.off_since else ""
        return f"{formatting.counted(group.patients, 'patient')}, still off{since}"
    return f"{formatting.counted(group.patients, 'patient')}, {formatting.counted(group.days_off or 0, 'day')} off"


class ReturnEffect(Command):
    """Store a practice's latest return where the incident will read it when returns close."""

    kind: Literal["return"] = "return"
    parent_id: str
    record: ReturnRecord


class AcknowledgeReturnsClosed(Command):
    """Tell the cohort this practice's returns are closed and its return stored."""

    kind: Literal["ack_closed"] = "ack_closed"
    ods: str
