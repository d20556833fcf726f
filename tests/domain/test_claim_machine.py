"""The unfunded work claim (ClaimCase) and the shared negotiation it runs on, without Temporal:
every state, every action's transition and refusal, and every deadline.

    submitted ──acknowledge──▶ acknowledged ──accept──────────▶ payment_expected ──confirm_payment──▶ closed (paid)
        │                          │  ├─accept_part─▶ counter_offered ─accept_offer─┘
        └── (any decision) ────────┤  │                   └─dispute─▶ disputed ─(decide again)
                                   │  ├─commission (back-payment ─▶ payment_expected, else closed commissioned)
                                   │  ├─reject─▶ rejected ─dispute─▶ disputed
                                   │  └─request_info─▶ information_requested ─supply_info─▶ back, clock resumed
    withdraw: from any open state ─▶ closed (withdrawn)
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain import wording
from domain.contacts import Role
from domain.escalation import DeadlinePolicy, ResponseRefused
from domain.responses import ResponseInput
from domain.unfunded_claim import ClaimCase
from domain.working_days import LONDON
from tests.domain.builders import (
    CHAIR,
    KENT,
    MEDSEC,
    NWL,
    OFFICER,
    as_role,
    audits,
    emails,
    five_pm,
    london,
    mail,
    officer,
    open_claim,
    payer,
    state,
    wait_of,
)

CLAIMED = 283_700  # the Kent example: six lines priced from the example tariff
OFFER = 200_000
OPENED = london(2026, 12, 14, 9)  # Monday; the acknowledgement is due Thursday 17 December
ACT = london(2026, 12, 22, 11)  # Tuesday before Christmas: every deadline below crosses it
DECISION_DUE = five_pm(2027, 1, 22)  # 20 working days after 22 Dec 2026 (25, 28 Dec and 1 Jan are holidays)
REPLY_DUE = five_pm(2027, 1, 8)  # 10 working days after 22 Dec 2026
PAYMENT_DUE = five_pm(2027, 1, 21)  # 30 calendar days after 22 Dec 2026

# A valid response for each action: with its required fields, so only state or actor can refuse it.
VALID: dict[str, ResponseInput] = {
    "acknowledge": payer("acknowledge"),
    "accept": payer("accept"),
    "accept_part": payer("accept_part", amount_pence=OFFER, reasons="Fit notes are the GP's job"),
    "commission": payer("commission", on_date=date(2027, 4, 1), reasons="A local enhanced service"),
    "reject": payer("reject", reasons="Not the ICB's responsibility"),
    "request_info": payer("request_info", text="Which letters are the onward referrals?"),
    "supply_info": officer("supply_info", text="Letters KLMC-1701, KLMC-1702 and KLMC-1709"),
    "accept_offer": officer("accept_offer"),
    "dispute": officer("dispute", reasons="Every category breaches the contract"),
    "withdraw": officer("withdraw", reasons="Settled at the liaison meeting"),
    "confirm_payment": officer("confirm_payment"),
}

# How to reach each state from submission, one step a day from Tuesday 15 December.
PATHS: dict[str, list[str]] = {
    "submitted": [],
    "acknowledged": ["acknowledge"],
    "information_requested": ["request_info"],
    "counter_offered": ["acknowledge", "accept_part"],
    "rejected": ["acknowledge", "reject"],
    "disputed": ["acknowledge", "reject", "dispute"],
    "payment_expected": ["acknowledge", "accept"],
    "closed": ["withdraw"],
}

DECISIONS = {"accept", "accept_part", "commission", "reject", "request_info"}
# What each side may do in each state (the officer may also always declare an interest while open).
OPEN: dict[str, tuple[set[str], set[str]]] = {
    "submitted": ({"acknowledge", *DECISIONS}, {"withdraw"}),
    "acknowledged": (DECISIONS, {"withdraw"}),
    "information_requested": (set(), {"supply_info", "withdraw"}),
    "counter_offered": (set(), {"accept_offer", "dispute", "withdraw"}),
    "rejected": (set(), {"dispute", "withdraw"}),
    "disputed": (DECISIONS, {"withdraw"}),
    "payment_expected": (set(), {"confirm_payment", "withdraw"}),
    "closed": (set(), set()),
}


def reach(status: str, **changes: Any) -> ClaimCase:
    case, _ = open_claim(OPENED, **changes)
    for day, action in enumerate(PATHS[status], start=15):
        case.apply(VALID[action], london(2026, 12, day, 10))
    assert case.status == status
    return case


# --- which actions are open where -------------------------------------------------------
def test_opening_sends_the_claim_to_the_named_icb_contact() -> None:
    case, effects = open_claim(OPENED)
    assert (case.status, case.outcome, case.claimed_pence) == ("submitted", None, CLAIMED)
    assert wait_of(case) == ("acknowledgement", Role.PAYER, five_pm(2026, 12, 17))
    assert audits(effects) == ["submitted"]
    assert effects[0].model_dump()["detail"] == {
        "payer": "QKS",
        "provider": "Maidstone and Tunbridge Wells NHS Trust",
        "practices": ["G82001", "G82002", "G82005", "G82011", "G82016", "G82023"],
        "claimed_pence": CLAIMED,
        "lines": 6,
    }
    assert mail(effects) == [("submitted", KENT[0], [OFFICER])]
    [email] = emails(effects)
    assert email.to_role is Role.PAYER and email.subject.startswith("[UWC-2026-TEST01] Claim for unfunded work")
    assert email.actions == ["acknowledge", "accept", "accept_part", "commission", "reject", "request_info"]
    assert "£2,837.00" in email.paragraphs[0] and "Thursday 17 December 2026, 5pm" in email.paragraphs[-1]


@pytest.mark.parametrize("status", OPEN)
def test_each_state_offers_each_side_exactly_its_actions(status: str) -> None:
    case = reach(status)
    payer_open, officer_open = OPEN[status]
    assert set(case.actions_for(Role.PAYER)) == payer_open
    assert set(case.actions_for(Role.OFFICER)) == (officer_open | {"declare_interest"} if status != "closed" else set())
    assert case.actions_for(Role.PRACTICE) == case.actions_for(Role.OBSERVER) == []


@pytest.mark.parametrize("role", [Role.PAYER, Role.OFFICER])
@pytest.mark.parametrize("action", VALID)
@pytest.mark.parametrize("status", OPEN)
def test_every_action_is_taken_only_by_its_side_in_its_states(status: str, action: str, role: Role) -> None:
    case = reach(status)
    email = KENT[0] if role is Role.PAYER else OFFICER
    response = VALID[action].model_copy(update={"actor_role": role, "actor_email": email})
    before = state(case)
    if action in OPEN[status][0 if role is Role.PAYER else 1]:
        case.check(response)
    else:
        expected = (
            "closed \\(withdrawn by the LMC\\)"
            if status == "closed"
            else f"is not open at this stage \\({re.escape(wording.status(status))}\\)"
        )
        with pytest.raises(ResponseRefused, match=expected):
            case.check(response)
        with pytest.raises(ResponseRefused):
            case.apply(response, ACT)
    assert state(case) == before  # checking, or a refused apply, changes nothing


# --- transitions ------------------------------------------------------------------------
L1_CC = [OFFICER]
L2_CC = [OFFICER, KENT[0]]


@pytest.mark.parametrize(
    ("start", "response", "status", "outcome", "wait", "sent", "events"),
    [
        pytest.param(
            "submitted", VALID["acknowledge"], "acknowledged", None,
            ("decision", Role.PAYER, DECISION_DUE), [("acknowledged", OFFICER, [])], ["response:acknowledge"],
            id="submitted-acknowledge",
        ),
        pytest.param(
            "submitted", VALID["accept"], "payment_expected", None,
            ("payment", Role.PAYER, PAYMENT_DUE), [("accepted", OFFICER, [])], ["response:accept"],
            id="submitted-accept",
        ),
        pytest.param(
            "submitted", payer("accept", on_date=date(2027, 2, 26)), "payment_expected", None,
            ("payment", Role.PAYER, five_pm(2027, 2, 26)), [("accepted", OFFICER, [])], ["response:accept"],
            id="submitted-accept-with-date",
        ),
        pytest.param(
            "submitted", VALID["accept_part"], "counter_offered", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("counter_offered", OFFICER, [])], ["response:accept_part"],
            id="submitted-accept_part",
        ),
        pytest.param(
            "submitted", VALID["reject"], "rejected", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("rejected", OFFICER, [])], ["response:reject"],
            id="submitted-reject",
        ),
        pytest.param(
            "submitted", VALID["request_info"], "information_requested", None,
            ("information", Role.OFFICER, REPLY_DUE), [("information_requested", OFFICER, [])],
            ["response:request_info"],
            id="submitted-request_info",
        ),
        pytest.param(
            "submitted", payer("commission", on_date=date(2027, 4, 1), amount_pence=50_000), "payment_expected", None,
            ("payment", Role.PAYER, PAYMENT_DUE), [("commissioned", OFFICER, [])], ["response:commission"],
            id="submitted-commission-with-back-payment",
        ),
        pytest.param(
            "submitted", VALID["commission"], "closed", "commissioned",
            None, [("commissioned", OFFICER, [])], ["response:commission", "closed"],
            id="submitted-commission-without-back-payment",
        ),
        pytest.param(
            "acknowledged", VALID["accept"], "payment_expected", None,
            ("payment", Role.PAYER, PAYMENT_DUE), [("accepted", OFFICER, [])], ["response:accept"],
            id="acknowledged-accept",
        ),
        pytest.param(
            "acknowledged", VALID["accept_part"], "counter_offered", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("counter_offered", OFFICER, [])], ["response:accept_part"],
            id="acknowledged-accept_part",
        ),
        pytest.param(
            "acknowledged", VALID["reject"], "rejected", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("rejected", OFFICER, [])], ["response:reject"],
            id="acknowledged-reject",
        ),
        pytest.param(
            "acknowledged", VALID["request_info"], "information_requested", None,
            ("information", Role.OFFICER, REPLY_DUE), [("information_requested", OFFICER, [])],
            ["response:request_info"],
            id="acknowledged-request_info",
        ),
        pytest.param(
            "acknowledged", VALID["commission"], "closed", "commissioned",
            None, [("commissioned", OFFICER, [])], ["response:commission", "closed"],
            id="acknowledged-commission",
        ),
        pytest.param(
            # asked on 15 Dec with 2 of its 3 working days left: they run again from 22 Dec
            "information_requested", VALID["supply_info"], "submitted", None,
            ("acknowledgement", Role.PAYER, five_pm(2026, 12, 24)), [("information_supplied", KENT[0], L1_CC)],
            ["response:supply_info"],
            id="information_requested-supply_info",
        ),
        pytest.param(
            "counter_offered", VALID["accept_offer"], "payment_expected", None,
            ("payment", Role.PAYER, PAYMENT_DUE), [("offer_accepted", KENT[0], L1_CC)], ["response:accept_offer"],
            id="counter_offered-accept_offer",
        ),
        pytest.param(
            "counter_offered", VALID["dispute"], "disputed", None,
            ("decision", Role.PAYER, DECISION_DUE), [("disputed", KENT[1], L2_CC)], ["response:dispute"],
            id="counter_offered-dispute",
        ),
        pytest.param(
            "rejected", VALID["dispute"], "disputed", None,
            ("decision", Role.PAYER, DECISION_DUE), [("disputed", KENT[1], L2_CC)], ["response:dispute"],
            id="rejected-dispute",
        ),
        pytest.param(
            "disputed", VALID["accept"], "payment_expected", None,
            ("payment", Role.PAYER, PAYMENT_DUE), [("accepted", OFFICER, [])], ["response:accept"],
            id="disputed-accept",
        ),
        pytest.param(
            "disputed", VALID["accept_part"], "counter_offered", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("counter_offered", OFFICER, [])], ["response:accept_part"],
            id="disputed-accept_part",
        ),
        pytest.param(
            "disputed", payer("reject", email=KENT[1], reasons="Still no"), "rejected", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("rejected", OFFICER, [])], ["response:reject"],
            id="disputed-reject",
        ),
        pytest.param(
            "disputed", VALID["request_info"], "information_requested", None,
            ("information", Role.OFFICER, REPLY_DUE), [("information_requested", OFFICER, [])],
            ["response:request_info"],
            id="disputed-request_info",
        ),
        pytest.param(
            "disputed", VALID["commission"], "closed", "commissioned",
            None, [("commissioned", OFFICER, [])], ["response:commission", "closed"],
            id="disputed-commission",
        ),
        pytest.param(
            "payment_expected", VALID["confirm_payment"], "closed", "paid",
            None, [("paid", KENT[0], L1_CC)], ["response:confirm_payment", "closed"],
            id="payment_expected-confirm_payment",
        ),
        *(
            pytest.param(
                start, VALID["withdraw"], "closed", "withdrawn",
                None, [("withdrawn", KENT[1] if start == "disputed" else KENT[0], L2_CC if start == "disputed" else L1_CC)],
                ["response:withdraw", "closed"],
                id=f"{start}-withdraw",
            )
            for start in OPEN
            if start != "closed"
        ),
    ],
)  # fmt: skip
def test_each_action_moves_the_claim_on(
    start: str,
    response: ResponseInput,
    status: str,
    outcome: str | None,
    wait: tuple[str, Role, datetime] | None,
    sent: list[tuple[str, str, list[str]]],
    events: list[str],
) -> None:
    case = reach(start)
    revision = case.revision
    result, effects = case.apply(response, ACT)
    assert (case.status, case.outcome, result.status) == (status, outcome, status)
    assert wait_of(case) == wait
    assert mail(effects) == sent
    assert audits(effects) == events
    assert effects[0].model_dump()["detail"]["status_before"] == start  # the response's audit comes first
    assert case.revision > revision
    for email in emails(effects):  # each link offers what its holder may do now, and nothing once closed
        assert email.actions == case.actions_for(email.to_role)
        assert email.subject.startswith("[UWC-2026-TEST01] ")


def test_money_follows_the_negotiation() -> None:
    offered = reach("counter_offered")
    assert (offered.offered_pence, offered.agreed_pence, offered.last_reasons) == (
        OFFER,
        None,
        "Fit notes are the GP's job",
    )
    offered.apply(VALID["accept_offer"], ACT)
    assert offered.agreed_pence == OFFER and offered.payment_due == PAYMENT_DUE

    accepted = reach("payment_expected")
    assert accepted.agreed_pence == CLAIMED
    accepted.apply(VALID["confirm_payment"], ACT)
    assert accepted.paid_pence == CLAIMED  # no amount given: the agreed amount
    exact = reach("payment_expected")
    exact.apply(officer("confirm_payment", amount_pence=CLAIMED), ACT)
    assert (exact.outcome, exact.paid_pence) == ("paid", CLAIMED)

    back_paid = reach("acknowledged")
    _, effects = back_paid.apply(payer("commission", on_date=date(2027, 4, 1), amount_pence=50_000), ACT)
    assert (back_paid.commissioned_from, back_paid.agreed_pence) == (date(2027, 4, 1), 50_000)
    assert "back-payment of £500.00" in emails(effects)[0].paragraphs[0]
    without = reach("acknowledged")
    without.apply(VALID["commission"], ACT)
    assert (without.commissioned_from, without.agreed_pence, without.outcome) == (
        date(2027, 4, 1),
        None,
        "commissioned",
    )


def test_a_question_pauses_the_payer_and_the_answer_restores_the_state_it_interrupted() -> None:
    case = reach("disputed")  # disputed on 17 Dec: a decision due 20 working days later, 19 January 2027
    assert wait_of(case) == ("decision", Role.PAYER, five_pm(2027, 1, 19))
    _, effects = case.apply(payer("request_info", email=KENT[1], text="Which practices?"), ACT)
    assert case.paused_wait is not None and case.paused_wait.deadline is None
    assert case.paused_wait.paused_days_left == 17  # 23 Dec 2026 to 19 Jan 2027, holidays skipped
    assert (case.status_before_question, case.open_question) == ("disputed", "Which practices?")
    assert "clock is paused" in emails(effects)[0].paragraphs[1]
    _, effects = case.apply(officer("supply_info", text="All six listed"), london(2027, 1, 4, 9))
    assert (case.status, case.open_question, case.paused_wait) == ("disputed", None, None)
    assert wait_of(case) == ("decision", Role.PAYER, five_pm(2027, 1, 27))  # 17 working days from 4 Jan
    assert mail(effects) == [("information_supplied", KENT[1], L2_CC)]
    assert emails(effects)[0].paragraphs[:2] == ["You asked: Which practices?", "The LMC answers: All six listed"]


# --- refusals ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "response", "error"),
    [
        ("submitted", payer("accept_part", reasons="Too much"), "amount_pence: a counter-offer needs an amount"),
        ("submitted", payer("accept_part", amount_pence=0, reasons="Too much"), "amount_pence: a counter-offer needs"),
        ("submitted", payer("accept_part", amount_pence=CLAIMED, reasons="All"), "must be less than the £2,837.00"),
        ("acknowledged", payer("accept_part", amount_pence=CLAIMED + 1, reasons="x"), "to agree it in full, choose 'Accept the full amount'"),
        ("acknowledged", payer("accept_part", amount_pence=OFFER), "reasons: give your reasons"),
        ("acknowledged", payer("reject"), "reasons: give your reasons"),
        ("disputed", payer("reject", reasons="   "), "reasons: give your reasons"),
        ("submitted", payer("request_info"), "text: say what information"),
        ("acknowledged", payer("commission", amount_pence=50_000), "on_date: give the date"),
        ("information_requested", officer("supply_info", text=" "), "text: say what information"),
        ("counter_offered", officer("dispute"), "reasons: give your reasons"),
        ("rejected", officer("dispute", reasons=""), "reasons: give your reasons"),
        ("payment_expected", officer("withdraw"), "reasons: give your reasons"),
    ],
)
def test_an_action_without_what_it_needs_is_refused_naming_the_field(
    start: str, response: ResponseInput, error: str
) -> None:
    case = reach(start)
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.apply(response, ACT)
    assert state(case) == before


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (payer("acknowledge", email=NWL[0]), "not a contact of NHS Kent and Medway ICB"),
        (payer("acknowledge", email="someone@kmicb.example"), "not a contact of NHS Kent and Medway ICB"),
        (officer("withdraw", email=CHAIR, reasons="x"), "not an officer of Example Local Medical Committee"),
        (officer("withdraw", email=KENT[0], reasons="x"), "not an officer"),
        (as_role(Role.PRACTICE, "acknowledge", "pm.g82001@nhs.example"), "nothing is open to you now"),
        (as_role(Role.OBSERVER, "acknowledge", NWL[0]), "nothing is open to you now"),
        (payer("pay_now"), "'pay now' is not open at this stage \\(sent, waiting for acknowledgement\\)"),
        (payer("withdraw", reasons="x"), "'Withdraw the claim' is not open.*open now: 'Acknowledge receipt'"),
        (
            officer("acknowledge"),
            "'Acknowledge receipt' is not open.*open now: 'Withdraw the claim', 'Declare an interest in a party'",
        ),
    ],
)
def test_strangers_and_the_wrong_side_are_refused(response: ResponseInput, error: str) -> None:
    case, _ = open_claim(OPENED)
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.check(response)
    assert state(case) == before


@pytest.mark.parametrize(
    "response",
    [
        payer("acknowledge", email=KENT[1]),  # any contact on the ICB's ladder, at any level
        payer("acknowledge", email=KENT[2]),
        payer("acknowledge", email="PrimaryCare.Contracts@KMICB.example"),
        officer("withdraw", email=MEDSEC, reasons="x"),  # any LMC officer, not only the claim's own
    ],
)
def test_any_contact_on_the_ladder_and_any_officer_may_respond(response: ResponseInput) -> None:
    case, _ = open_claim(OPENED)
    case.check(response)


def test_the_claims_parties_are_its_payer_and_its_practices() -> None:
    case, _ = open_claim(OPENED)
    assert case.parties() == {"QKS", "G82001", "G82002", "G82005", "G82011", "G82016", "G82023"}


# --- deadlines --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "due"),
    [
        (london(2026, 11, 23, 9), five_pm(2026, 11, 26)),  # Monday -> Thursday
        (london(2026, 11, 27, 16), five_pm(2026, 12, 2)),  # Friday -> Wednesday over the weekend
        (london(2026, 12, 22, 10), five_pm(2026, 12, 29)),  # over Christmas and the Boxing Day substitute
        (london(2026, 12, 23, 16, 59), five_pm(2026, 12, 30)),
        (london(2026, 12, 24, 18), five_pm(2026, 12, 31)),  # sent after 17:00: still counted from that day
        (london(2026, 12, 26, 10), five_pm(2026, 12, 31)),  # sent on a bank holiday Saturday
        (london(2026, 12, 31, 10), five_pm(2027, 1, 6)),  # over New Year's Day
        (london(2027, 3, 25, 10), five_pm(2027, 4, 1)),  # over Good Friday and Easter Monday, into BST
        (london(2026, 8, 28, 10), five_pm(2026, 9, 3)),  # over the summer bank holiday, in BST
        (datetime(2026, 8, 27, 23, 30, tzinfo=UTC), five_pm(2026, 9, 3)),  # 00:30 BST on Friday in London
    ],
)
def test_acknowledgement_is_due_at_five_on_the_third_working_day(sent: datetime, due: datetime) -> None:
    case, effects = open_claim(sent)
    assert case.wait is not None and case.wait.deadline == due
    assert case.wait.deadline.astimezone(LONDON).hour == 17 and case.next_timer() == due
    assert f"{due:%A} {due.day} {due:%B %Y}, 5pm" in emails(effects)[0].paragraphs[-1]


def test_a_bst_deadline_is_five_pm_london_not_utc() -> None:
    case, _ = open_claim(london(2026, 8, 28, 10))
    assert case.wait is not None and case.wait.deadline is not None
    assert case.wait.deadline.astimezone(UTC).hour == 16


def test_each_allowance_comes_from_the_kinds_policy() -> None:
    policy = DeadlinePolicy(
        acknowledgement_days=1, response_days=5, officer_reply_days=2, payment_calendar_days=7, reminder_grace_days=1
    )
    case, _ = open_claim(london(2026, 12, 23, 10), policy=policy)
    assert wait_of(case) == ("acknowledgement", Role.PAYER, five_pm(2026, 12, 24))
    case.apply(VALID["acknowledge"], london(2026, 12, 24, 10))
    assert wait_of(case) == ("decision", Role.PAYER, five_pm(2027, 1, 5))  # 29, 30, 31 Dec, 4 and 5 Jan
    case.apply(VALID["accept_part"], london(2026, 12, 24, 11))
    assert wait_of(case) == ("officer_reply", Role.OFFICER, five_pm(2026, 12, 30))
    case.apply(VALID["accept_offer"], london(2026, 12, 24, 12))
    assert wait_of(case) == ("payment", Role.PAYER, five_pm(2026, 12, 31))  # seven calendar days


def test_payment_is_expected_thirty_calendar_days_on_unless_the_payer_gives_a_date() -> None:
    case = reach("acknowledged")
    case.apply(VALID["accept"], london(2027, 2, 1, 9))
    assert case.payment_due == five_pm(2027, 3, 3)  # calendar days: weekends count
    dated = reach("acknowledged")
    dated.apply(payer("accept", on_date=date(2027, 3, 31)), ACT)
    assert dated.payment_due == five_pm(2027, 3, 31)
    assert dated.payment_due.astimezone(UTC).hour == 16  # BST by then
    assert ("Payment expected by", "31 March 2027") in dated.facts()


# --- rules that look wrong (left unfixed; see the reasons) -------------------------------
def test_an_underpayment_keeps_the_claim_open() -> None:
    case = reach("payment_expected")
    case.apply(officer("confirm_payment", amount_pence=CLAIMED - 100), ACT)
    assert not case.is_closed


def test_accepting_a_counter_offer_keeps_the_payment_date_the_payer_gave() -> None:
    case = reach("acknowledged")
    case.apply(payer("accept_part", amount_pence=OFFER, reasons="Part", on_date=date(2027, 2, 26)), ACT)
    case.apply(VALID["accept_offer"], london(2026, 12, 23, 10))
    assert case.payment_due == five_pm(2027, 2, 26)


@pytest.mark.parametrize("when", [date(2026, 12, 28), date(2026, 12, 1)], ids=["bank-holiday", "in-the-past"])
def test_a_payment_date_on_a_bank_holiday_or_in_the_past_is_refused(when: date) -> None:
    case = reach("acknowledged")
    with pytest.raises(ResponseRefused, match="29 December 2026|past"):
        case.check(payer("accept", on_date=when))
