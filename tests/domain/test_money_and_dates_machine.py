"""Issue #12's rules, without Temporal: money above £0 wherever it is a payment, a pot, an offer or a
rate; working-day dates not in the past, with the next working day offered; deregistration dates
inside the incident's window; a counter-offer's terms carried into the agreement; a payment other than
the agreed amount kept open for the officer (chase the rest, or accept the difference); and the old
rules kept, unchanged, by a case opened before them (`rules=LEGACY_RULES`).

    payment_expected ──confirm_payment (in full)────────────▶ closed (paid)
          │          └─confirm_payment (short / over)──▶ underpaid / overpaid (the officer decides)
          │                                         underpaid ──chase_balance──▶ payment_expected (the rest)
          │                                         underpaid ──accept_shortfall──▶ closed (paid_short)
          │                                         overpaid ──accept_overpayment──▶ closed (paid_over)
    (a practice's share runs the same way from share_notified)
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import LEGACY_CALENDAR
from domain.compensation_claim import CompensationClaimCase
from domain.contacts import Role
from domain.deregistration import DeregistrationCase, DeregistrationRequest, group_days
from domain.deregistration import request_problems as deregistration_problems
from domain.escalation import CURRENT_RULES, LEGACY_RULES, MONEY_AND_DATES, ResponseRefused
from domain.incident import ChildState, StartChild, StartPractices, TellPractices
from domain.pathology import PathologyRequest, request_problems
from domain.practice_return import PracticeCase, ReturnRecord, ShareNotice
from domain.responses import DeregisteredGroup
from domain.unfunded_claim import ClaimCase
from domain.working_days import next_working_day, working_day_problem
from tests.domain.builders import (
    KENT,
    NWL,
    OFFICER,
    audits,
    child_request,
    config,
    emails,
    example,
    five_pm,
    london,
    mail,
    of_type,
    officer,
    open_claim,
    open_compensation,
    open_confirmation,
    open_deregistration,
    open_pathology,
    payer,
    practice,
    practice_case,
    state,
    wait_of,
)

OPENED = london(2026, 12, 14, 9)
CLAIMED = 283_700
PM = "pm.e87700@nhs.example"


# --- working days ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "today", "problem"),
    [
        (date(2026, 12, 29), None, None),
        (date(2026, 12, 28), None, "28 December 2026 is a bank holiday; the next working day is Tuesday 29 December 2026"),
        (date(2026, 12, 25), None, "25 December 2026 is a bank holiday; the next working day is Tuesday 29 December 2026"),
        (date(2027, 1, 2), None, "2 January 2027 is a Saturday; the next working day is Monday 4 January 2027"),
        (date(2027, 3, 26), None, "26 March 2027 is a bank holiday; the next working day is Tuesday 30 March 2027"),  # Easter
        (date(2026, 12, 1), date(2026, 12, 15), "1 December 2026 is in the past; the earliest working day is Tuesday 15 December 2026"),
        (date(2026, 12, 24), date(2026, 12, 26), "24 December 2026 is in the past; the earliest working day is Tuesday 29 December 2026"),
        (date(2026, 12, 15), date(2026, 12, 15), None),  # today is not the past
        (date(2080, 1, 2), None, "2 January 2080 is further ahead than the bank holidays are known (to the end of 2075); choose an earlier date"),
        (date(1990, 1, 2), date(2026, 12, 15), "2 January 1990 is in the past; the earliest working day is Tuesday 15 December 2026"),
        (date(1990, 1, 2), None, "2 January 1990 is outside the bank-holiday calendar (2000 to 2075)"),
    ],
)  # fmt: skip
def test_a_date_someone_sets_must_be_a_working_day_not_in_the_past(day: date, today: date | None, problem: str) -> None:
    assert working_day_problem(LEGACY_CALENDAR, day, today) == problem


def test_the_next_working_day_is_the_day_itself_when_it_is_one() -> None:
    assert next_working_day(LEGACY_CALENDAR, date(2026, 12, 29)) == date(2026, 12, 29)
    assert next_working_day(LEGACY_CALENDAR, date(2026, 12, 26)) == date(2026, 12, 29)


# --- the unfunded claim: payment dates, amounts, the counter-offer's terms -------------------
def acknowledged(rules: int | None = None) -> ClaimCase:
    """The Kent claim, acknowledged; `rules` as if it had been opened under older ones."""
    case, _ = open_claim(OPENED)
    if rules is not None:
        case.rules = rules
    case.apply(payer("acknowledge"), london(2026, 12, 15, 10))
    return case


def expecting() -> ClaimCase:
    case = acknowledged()
    case.apply(payer("accept", on_date=date(2027, 1, 29)), london(2026, 12, 16, 10))
    assert case.status == "payment_expected" and case.payment_due == five_pm(2027, 1, 29)
    return case


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (payer("accept", on_date=date(2027, 1, 2)), "on_date: a payment date must be a working day, not in the past; "
         "2 January 2027 is a Saturday; the next working day is Monday 4 January 2027"),
        (payer("accept_part", amount_pence=200_000, reasons="Part", on_date=date(2026, 12, 28)),
         "on_date: .*28 December 2026 is a bank holiday; the next working day is Tuesday 29 December 2026"),
        (payer("accept", on_date=date(2026, 12, 14)), "on_date: .*14 December 2026 is in the past"),
        (payer("commission", on_date=date(2027, 4, 1), amount_pence=0),
         r"amount_pence: a back-payment must be more than £0.00; leave it out if there is none"),
        (payer("accept_part", amount_pence=0, reasons="Nothing"), r"amount_pence: .*more than £0.00"),
    ],
)  # fmt: skip
def test_a_payers_payment_date_or_amount_that_makes_no_sense_is_refused_naming_the_field(
    response: object, error: str
) -> None:
    case = acknowledged()
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.apply(response, london(2026, 12, 16, 10))  # type: ignore[arg-type]
    assert state(case) == before


def test_the_past_is_judged_by_when_the_response_arrives() -> None:
    case = acknowledged()
    case.check(payer("accept", on_date=date(2027, 1, 29)), london(2027, 1, 28, 10))
    with pytest.raises(ResponseRefused, match="29 January 2027 is in the past"):
        case.check(payer("accept", on_date=date(2027, 1, 29)), london(2027, 2, 1, 10))


def test_commissioning_from_a_past_date_is_not_a_payment_date_and_stands() -> None:
    case = acknowledged()
    case.apply(payer("commission", on_date=date(2026, 4, 1), reasons="Backdated LES"), london(2026, 12, 16, 10))
    assert (case.outcome, case.commissioned_from) == ("commissioned", date(2026, 4, 1))


def test_accepting_a_counter_offer_carries_its_amount_date_and_reasons_into_the_agreement() -> None:
    case = acknowledged()
    offer = payer("accept_part", amount_pence=200_000, reasons="Fit notes are the GP's job", on_date=date(2027, 2, 26))
    case.apply(offer, london(2026, 12, 16, 10))
    assert ("Offered", "£2,000.00, to be paid by 26 February 2027") in case.facts()
    # the officer decides with the payer's reasons in view (page and `show`), not only in the email
    assert ("Reasons given for the offer", "Fit notes are the GP's job") in case.facts()
    _, effects = case.apply(officer("accept_offer"), london(2026, 12, 17, 10))
    assert not [f for f in case.facts() if f[0] == "Reasons given for the offer"]  # now the terms agreed
    assert (case.agreed_pence, case.payment_due, case.agreed_terms) == (
        200_000, five_pm(2027, 2, 26), "Fit notes are the GP's job",
    )  # fmt: skip
    assert wait_of(case) == ("payment", Role.PAYER, five_pm(2027, 2, 26))
    assert ("Terms agreed", "Fit notes are the GP's job") in case.facts()
    [email] = emails(effects)
    assert email.paragraphs[:2] == [
        "The LMC accepts your offer of £2,000.00, to be paid by 26 February 2027.",
        "On your terms: Fit notes are the GP's job",
    ]
    assert email.paragraphs[2] == "Payment of £2,000.00 expected by 26 February 2027."


def test_a_counter_offer_without_a_date_is_due_thirty_days_after_it_is_accepted() -> None:
    case = acknowledged()
    case.apply(payer("accept_part", amount_pence=200_000, reasons="Part"), london(2026, 12, 16, 10))
    case.apply(officer("accept_offer"), london(2026, 12, 17, 10))
    assert case.payment_due == five_pm(2027, 1, 18)  # 30 days on is Saturday 16 January: the next working day


def test_a_default_payment_date_on_a_bank_holiday_rolls_to_the_next_working_day() -> None:
    case = acknowledged()
    case.apply(payer("accept_part", amount_pence=200_000, reasons="Part"), london(2026, 11, 24, 10))
    case.apply(officer("accept_offer"), london(2026, 11, 25, 10))  # 30 days on is Christmas Day
    assert case.payment_due == five_pm(2026, 12, 29)  # Boxing Day's substitute is Monday 28: Tuesday 29


def test_a_case_opened_under_older_rules_keeps_its_default_payment_date() -> None:
    case = acknowledged()
    case.rules = MONEY_AND_DATES
    case.apply(payer("accept_part", amount_pence=200_000, reasons="Part"), london(2026, 11, 24, 10))
    case.apply(officer("accept_offer"), london(2026, 11, 25, 10))
    assert case.payment_due == five_pm(2026, 12, 25)  # as recorded histories have it: replay never changes


# --- paid against agreed: the claim ----------------------------------------------------------
def test_a_payment_in_full_closes_the_claim_paid_with_no_gap() -> None:
    case = expecting()
    case.apply(officer("confirm_payment"), london(2027, 1, 29, 12))
    assert (case.outcome, case.paid_pence, case.payment_gap(), case.underpaid) == ("paid", CLAIMED, 0, False)


def test_an_underpayment_is_recorded_with_its_gap_and_waits_for_the_officer() -> None:
    case = expecting()
    result, effects = case.apply(officer("confirm_payment", amount_pence=280_000), london(2027, 1, 29, 12))
    assert (case.status, case.outcome, case.payment_gap(), case.underpaid) == ("underpaid", None, -3_700, True)
    assert result.status == "underpaid"
    assert result.message.startswith("£2,800.00 recorded; £2,800.00 received against £2,837.00 due: £37.00 short.")
    assert wait_of(case) == ("payment_decision", Role.OFFICER, five_pm(2027, 2, 12))  # 10 working days
    assert ("Received", "£2,800.00") in case.facts() and ("Underpaid by", "£37.00") in case.facts()
    assert audits(effects) == ["response:confirm_payment", "underpaid"]
    assert effects[1].model_dump()["detail"] == {"agreed_pence": CLAIMED, "paid_pence": 280_000, "gap_pence": -3_700}
    assert mail(effects) == [("underpaid", OFFICER, [])]
    assert emails(effects)[0].actions == ["chase_balance", "accept_shortfall", "withdraw", "declare_interest"]
    assert case.actions_for(Role.PAYER) == []


def test_chasing_the_rest_waits_for_the_balance_with_the_usual_reminders_then_closes_paid() -> None:
    case = expecting()
    case.apply(officer("confirm_payment", amount_pence=280_000), london(2027, 1, 29, 12))
    with pytest.raises(
        ResponseRefused, match="on_date: .*6 March 2027 is a Saturday; the next working day is Monday 8 March"
    ):
        case.check(officer("chase_balance", on_date=date(2027, 3, 6)), london(2027, 2, 1, 10))
    _, effects = case.apply(officer("chase_balance", on_date=date(2027, 2, 26)), london(2027, 2, 1, 10))
    assert (case.status, case.payment_due) == ("payment_expected", five_pm(2027, 2, 26))
    assert wait_of(case) == ("payment", Role.PAYER, five_pm(2027, 2, 26))
    assert mail(effects) == [("balance_chased", KENT[0], [OFFICER])]
    assert emails(effects)[0].paragraphs == [
        "The LMC has received £2,800.00 of the £2,837.00 agreed.",
        "Please pay the remaining £37.00 by Friday 26 February 2027, 5pm.",
    ]
    missed = case.on_timer(five_pm(2027, 2, 26))  # the payer's wait: a reminder, then the ladder
    assert mail(missed) == [("reminder-payment-L1", KENT[0], [OFFICER])]
    case.apply(officer("confirm_payment"), london(2027, 3, 2, 10))  # the rest, in full
    assert (case.outcome, case.paid_pence, case.payment_gap()) == ("paid", CLAIMED, 0)


def test_a_shortfall_accepted_with_reasons_closes_the_claim_paid_short() -> None:
    case = expecting()
    case.apply(officer("confirm_payment", amount_pence=280_000), london(2027, 1, 29, 12))
    with pytest.raises(ResponseRefused, match="reasons: say why the LMC accepts"):
        case.check(officer("accept_shortfall"))
    _, effects = case.apply(officer("accept_shortfall", reasons="Rounding agreed at liaison"), london(2027, 2, 1))
    assert (case.status, case.outcome, case.payment_gap()) == ("closed", "paid_short", -3_700)
    assert ("Difference accepted", "Rounding agreed at liaison") in case.facts()
    assert audits(effects) == ["response:accept_shortfall", "closed"]
    assert mail(effects) == [("difference_accepted", KENT[0], [OFFICER])]


def test_an_overpayment_is_kept_open_until_the_officer_accepts_it() -> None:
    case = expecting()
    case.apply(officer("confirm_payment", amount_pence=290_000), london(2027, 1, 29, 12))
    assert (case.status, case.payment_gap(), case.underpaid) == ("overpaid", 6_300, False)
    assert ("Overpaid by", "£63.00") in case.facts()
    assert case.actions_for(Role.OFFICER) == ["accept_overpayment", "withdraw", "declare_interest"]
    case.apply(officer("accept_overpayment", reasons="Refunded to the ICB"), london(2027, 2, 1))
    assert case.outcome == "paid_over"


def test_an_officers_undecided_payment_reminds_the_officer_then_is_overdue() -> None:
    case = expecting()
    case.apply(officer("confirm_payment", amount_pence=280_000), london(2027, 1, 29, 12))
    assert mail(case.on_timer(five_pm(2027, 2, 12))) == [("reminder-payment_decision", OFFICER, [])]
    case.on_timer(five_pm(2027, 2, 19))
    assert case.wait is not None and case.wait.overdue and case.next_timer() is None and not case.is_closed


@pytest.mark.parametrize("amount", [0])
def test_a_payment_of_nothing_is_refused(amount: int) -> None:
    case = expecting()
    with pytest.raises(
        ResponseRefused, match=r"amount_pence: the amount received must be more than £0.00; leave it out"
    ):
        case.check(officer("confirm_payment", amount_pence=amount))


def test_a_claim_under_the_old_rules_keeps_them() -> None:
    """Opened before issue #12: any payment closes it paid, a counter-offer's date is not carried, any date stands."""
    case = acknowledged(rules=LEGACY_RULES)
    case.apply(
        payer("accept_part", amount_pence=200_000, reasons="Part", on_date=date(2026, 12, 28)), london(2026, 12, 16)
    )
    case.apply(officer("accept_offer"), london(2026, 12, 17, 10))
    assert (case.payment_due, case.agreed_terms) == (five_pm(2027, 1, 16), None)
    case.apply(officer("confirm_payment", amount_pence=0), london(2027, 1, 29, 12))
    assert (case.outcome, case.paid_pence) == ("paid", 0)


# --- the compensation claim -----------------------------------------------------------------
def test_the_trusts_counter_offer_terms_reach_the_agreement() -> None:
    case, _ = open_compensation(OPENED)
    case.apply(payer("acknowledge", email="gp.liaison@imperial.example"), london(2026, 12, 15, 10))
    offer = payer(
        "accept_part",
        email="gp.liaison@imperial.example",
        amount_pence=1_000_000,
        reasons="Recall appointments only",
        on_date=date(2027, 3, 31),
    )
    case.apply(offer, london(2026, 12, 16, 10))
    case.apply(officer("accept_offer"), london(2026, 12, 17, 10))
    assert (case.outcome, case.agreed_pence, case.payment_due, case.agreed_terms) == (
        "agreed", 1_000_000, five_pm(2027, 3, 31), "Recall appointments only",
    )  # fmt: skip
    assert isinstance(case, CompensationClaimCase)


# --- confirmations: the pot -----------------------------------------------------------------
def pot_request(rules: int | None = None) -> tuple[DeregistrationCase, StartChild]:
    incident, _ = open_deregistration(london(2026, 12, 22, 10))
    if rules is not None:
        incident.rules = rules
    incident.apply(officer("close_returns"), london(2027, 1, 18))
    group = DeregisteredGroup(patients=10, days_off=30)
    effects = incident.on_returns_loaded([ReturnRecord(ods="E85012", groups=[group])], london(2027, 1, 18))
    return incident, child_request(effects, "pot")


def test_the_icb_may_refuse_to_pay_the_pot_with_reasons() -> None:
    _, start = pot_request()
    assert start.confirmation is not None and start.confirmation.may_refuse
    case, effects = open_confirmation(start, config().policy("deregistration"), london(2027, 1, 18))
    assert case.actions_for(Role.PAYER) == ["confirm", "refuse"]
    assert case.action_labels()["refuse"] == "Refuse to pay, with reasons"
    assert emails(effects)[0].paragraphs[1].endswith("or refuse to pay, with your reasons.")
    case.apply(payer("refuse", email=NWL[0], reasons="No budget this year"), london(2027, 1, 20))
    # The incident offers the officer's next step on a refused pot (pot_refused), so the request closes.
    assert (case.outcome, case.reasons) == ("refused", "No budget this year")


def test_a_pot_request_under_the_old_rules_cannot_be_refused_and_takes_nothing() -> None:
    _, start = pot_request(rules=LEGACY_RULES)
    assert start.confirmation is not None and not start.confirmation.may_refuse
    case, _ = open_confirmation(start, config().policy("deregistration"), london(2027, 1, 18))
    case.rules = LEGACY_RULES
    case.apply(payer("confirm", email=NWL[0], amount_pence=0, on_date=date(2026, 12, 28)), london(2027, 1, 20))
    assert (case.outcome, case.amount_pence) == ("confirmed", 0)


# --- deregistration: the pot refused, the window, the days -----------------------------------
def refused_pot(outcome: str = "refused", amount: int | None = None) -> tuple[DeregistrationCase, list[object]]:
    incident, _ = pot_request()
    child = ChildState(child_id="PDR-2026-TEST01-POT", outcome=outcome, amount_pence=amount, reasons="No budget")
    return incident, incident.on_child_closed("pot", child, london(2027, 2, 1, 10))  # type: ignore[return-value]


@pytest.mark.parametrize(("outcome", "amount"), [("refused", None), ("confirmed", 0)])
def test_a_refused_pot_waits_for_the_officer_and_never_settles(outcome: str, amount: int | None) -> None:
    incident, effects = refused_pot(outcome, amount)
    assert (incident.status, incident.outcome, incident.shares) == ("pot_refused", None, {})
    assert of_type(effects, TellPractices) == []  # type: ignore[arg-type]
    assert audits(effects) == ["child_closed", "pot_refused"]  # type: ignore[arg-type]
    assert mail(effects) == [("pot_refused", OFFICER, [])]  # type: ignore[arg-type]
    [email] = emails(effects)  # type: ignore[arg-type]
    assert email.actions == ["close_incident", "declare_interest"]
    assert "refused to redistribute" in email.paragraphs[0] and "Nothing will be paid" in email.paragraphs[1]
    if outcome == "refused":
        assert email.paragraphs[0].endswith(": No budget")
    assert wait_of(incident) == ("officer_decision", Role.OFFICER, five_pm(2027, 2, 15))
    assert mail(incident.on_timer(five_pm(2027, 2, 15))) == [("reminder-officer_decision", OFFICER, [])]
    incident.on_practices_settled({"E85012": "closed_by_officer"})
    assert incident.outcome is None  # never settles by itself
    incident.apply(officer("close_incident", reasons="To the liaison meeting"), london(2027, 2, 16))
    assert incident.outcome == "closed_by_officer"


def test_returns_carry_the_window_and_the_rules_to_every_practice() -> None:
    _, effects = open_deregistration(london(2026, 12, 22, 10))
    [start] = of_type(effects, StartPractices)
    assert (start.rules, start.window_start, start.cut_off) == (CURRENT_RULES, date(2024, 4, 1), date(2025, 3, 31))
    _, effects = open_deregistration(london(2026, 12, 22, 10), incident_start="2024-10-01")
    [start] = of_type(effects, StartPractices)
    assert start.window_start == date(2024, 10, 1)


def test_an_incident_start_after_the_cut_off_is_refused() -> None:
    data = {**example("deregistration_nwl_pathfinder.json"), "incident_start": "2025-04-01"}
    with pytest.raises(
        ValueError, match="incident_start: 1 April 2025 is after the day patients still off are counted to"
    ):
        DeregistrationRequest.model_validate(data)


def groups_practice() -> PracticeCase:
    case = practice_case(return_kind="groups", ods="E85012")
    case.window_start, case.cut_off = date(2024, 4, 1), date(2025, 3, 31)
    return case


@pytest.mark.parametrize(
    ("group", "error"),
    [
        (DeregisteredGroup(patients=4, still_off=True, off_since=date(2025, 4, 10)),
         "groups.0.off_since: 10 April 2025 is after the cut-off; give the date the group was deregistered, "
         "from 1 April 2024 to 31 March 2025"),
        (DeregisteredGroup(patients=4, still_off=True, off_since=date(2024, 3, 31)),
         "groups.0.off_since: 31 March 2024 is before the incident"),
        (DeregisteredGroup(patients=4, days_off=400),
         "groups.0.days_off: 400 days is longer than the incident \\(365 days, from 1 April 2024 to 31 March 2025\\); "
         "give the days off the list, 1 to 365"),
    ],
)  # fmt: skip
def test_a_return_outside_the_incidents_window_is_refused(group: DeregisteredGroup, error: str) -> None:
    case = groups_practice()
    response = practice("submit_return", email="pm.e85012@nhs.example", groups=[group])
    with pytest.raises(ResponseRefused, match=error):
        case.check(response)


def test_a_return_inside_the_window_is_taken_and_counted_with_both_ends() -> None:
    case = groups_practice()
    groups = [
        DeregisteredGroup(patients=4, days_off=365),
        DeregisteredGroup(patients=2, still_off=True, off_since=date(2024, 4, 1)),
    ]
    case.apply(practice("submit_return", email="pm.e85012@nhs.example", groups=groups), london(2026, 12, 22))
    assert case.status == "returned"
    assert group_days(groups[1], date(2025, 3, 31)) == 365  # the whole window, both ends
    assert group_days(groups[1], date(2025, 3, 31), both_ends=False) == 364  # the old count


def test_a_practice_under_the_old_rules_takes_any_return() -> None:
    case = practice_case(return_kind="groups", ods="E85012", rules=LEGACY_RULES)
    group = DeregisteredGroup(patients=4, still_off=True, off_since=date(2025, 4, 10))
    case.apply(practice("submit_return", email="pm.e85012@nhs.example", groups=[group]), london(2026, 12, 22))
    assert case.status == "returned"


def test_a_deregistration_under_the_old_rules_counts_the_old_way() -> None:
    case, _ = open_deregistration(london(2026, 12, 22, 10))
    case.rules = LEGACY_RULES
    late = DeregisteredGroup(patients=10, still_off=True, off_since=date(2025, 4, 10))
    march = DeregisteredGroup(patients=10, still_off=True, off_since=date(2025, 3, 1))
    assert case.claim_for(ReturnRecord(ods="E85012", groups=[late])) == 0
    assert case.claim_for(ReturnRecord(ods="E85012", groups=[march])) == 9_247  # 30 days, not 31
    assert case.groups_window() is None


def test_a_return_extended_to_a_past_date_is_refused() -> None:
    case, _ = open_deregistration(london(2026, 12, 22, 10))
    with pytest.raises(ResponseRefused, match="on_date: .*in the past"):
        case.check(officer("extend_returns", on_date=date(2027, 1, 20)), london(2027, 1, 21, 10))


# --- pathology: rates and the return deadline at the start; a claim not agreed -------------
def test_a_tariff_rate_of_nothing_or_a_return_deadline_on_a_bank_holiday_is_refused_by_field() -> None:
    data = example("pathology_nwl_uacr.json")
    data["tariff"][1]["rate_pence"] = 0
    data["return_deadline"] = "2026-12-28"
    request = PathologyRequest.model_validate(data)
    assert request_problems(request, LEGACY_CALENDAR) == {
        "tariff.1.rate_pence": "a rate must be more than £0.00 (on the form in pounds, e.g. 25.00; in a file as "
        "rate_pence, e.g. 2500); "
        "'recall_appointments' has none",
        "return_deadline": "a return deadline must be a working day, not in the past; 28 December 2026 is a bank "
        "holiday; the next working day is Tuesday 29 December 2026",
    }
    assert "in the past" in request_problems(request, LEGACY_CALENDAR, date(2027, 1, 4))["return_deadline"]
    data["tariff"][1]["rate_pence"] = 10**30  # pasted, or pounds typed many times over: the start refuses it
    absurd = request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR, date(2026, 12, 1))
    assert (
        "more than any item of work is paid" in absurd["tariff.1.rate_pence"]
        and "digits" in absurd["tariff.1.rate_pence"]
    )
    assert "tariff.1.rate_pence" not in request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR)
    data["tariff"][1]["rate_pence"] = 0
    with pytest.raises(ValueError, match="tariff.1.rate_pence"):
        open_pathology(london(2026, 12, 1, 10), tariff=data["tariff"])


def test_a_claim_withdrawn_tells_practices_nothing_is_due_and_closes_not_agreed_not_settled() -> None:
    case, _ = open_pathology(london(2026, 12, 22, 10))
    case.apply(officer("close_returns"), london(2027, 1, 11))
    counts = {"patients_reviewed": 1, "recall_appointments": 0, "repeat_tests": 0, "admin_hours": 0}
    case.on_returns_loaded([ReturnRecord(ods="E87700", counts=counts)], london(2027, 1, 11, 11))
    case.on_child_closed("claim", ChildState(child_id="PEC-2026-TEST01-CLAIM", outcome="withdrawn"), london(2027, 2, 1))
    case.on_practices_settled({"E87700": "nothing_due"})
    for topic in ("year_end", "incident_report"):
        case.on_child_closed(topic, ChildState(child_id=topic, outcome="confirmed"), london(2027, 3, 1))
    assert case.outcome == "not_agreed"
    assert ("Practices closed", "nothing due: 1") in case.facts()


# --- paid against the share: a practice ------------------------------------------------------
SHARE = ShareNotice(amount_pence=24_400, due=date(2027, 2, 26), explanation="Your share.")


def share_notified() -> PracticeCase:
    case = practice_case()
    case.apply(
        practice("submit_return", counts={"patients_reviewed": 12, "recall_appointments": 4}), london(2026, 12, 21)
    )
    case.close_returns()
    case.notify_share(SHARE, london(2027, 1, 6))
    assert case.status == "share_notified"
    return case


def test_an_underpaid_share_is_recorded_with_its_gap_and_the_officer_is_asked() -> None:
    case = share_notified()
    result, effects = case.apply(practice("confirm_receipt", amount_pence=20_000), london(2027, 2, 26, 11))
    assert (case.status, case.payment_gap(), case.underpaid) == ("underpaid", -4_400, True)
    assert result.message == (
        "Recorded: £200.00 received against £244.00 due: £44.00 short. The LMC has been told and will decide whether "
        "to chase the "
        "rest or accept the shortfall."
    )
    assert ("Received", "£200.00") in case.facts() and ("Underpaid by", "£44.00") in case.facts()
    assert audits(effects) == ["response:confirm_receipt", "underpaid"]
    assert mail(effects) == [("underpaid", OFFICER, [])]
    assert emails(effects)[0].actions == ["chase_balance", "accept_shortfall", "declare_interest"]
    assert case.actions_for(Role.PRACTICE) == ["correct_receipt"]  # a slip in what it typed, while the LMC decides
    assert wait_of(case) == ("payment_decision", Role.OFFICER, five_pm(2027, 3, 12))
    assert mail(case.on_timer(five_pm(2027, 3, 12))) == [("reminder-payment_decision", OFFICER, [])]


def test_chasing_a_practices_rest_asks_the_payer_and_waits_for_the_practice_again() -> None:
    case = share_notified()
    case.apply(practice("confirm_receipt", amount_pence=20_000), london(2027, 2, 26, 11))
    _, effects = case.apply(officer("chase_balance"), london(2027, 3, 1, 10))
    assert (case.status, case.payment_due) == ("share_notified", five_pm(2027, 3, 31))
    assert wait_of(case) == ("payment", Role.PRACTICE, five_pm(2027, 3, 31))
    assert mail(effects) == [("balance-chased", "gp.liaison@imperial.example", [OFFICER]), ("balance-chased", PM, [])]
    assert "remaining £44.00" in emails(effects)[0].paragraphs[1]
    assert emails(effects)[1].actions == ["confirm_receipt"]
    case.apply(practice("confirm_receipt"), london(2027, 3, 30, 11))  # the rest
    assert (case.outcome, case.received_pence, case.payment_gap()) == ("paid", 24_400, 0)


def test_a_practices_shortfall_accepted_closes_it_paid_short() -> None:
    case = share_notified()
    case.apply(practice("confirm_receipt", amount_pence=20_000), london(2027, 2, 26, 11))
    _, effects = case.apply(officer("accept_shortfall", reasons="Pro rata cap agreed"), london(2027, 3, 1))
    assert (case.outcome, case.payment_gap()) == ("paid_short", -4_400)
    assert audits(effects) == ["response:accept_shortfall", "closed"] and mail(effects) == [
        ("difference-accepted", PM, [])
    ]


def test_a_practice_confirming_nothing_is_refused() -> None:
    case = share_notified()
    with pytest.raises(ResponseRefused, match=r"amount_pence: the amount received must be more than £0.00; leave it out "
                       r"if the £244.00 outstanding arrived in full"):  # fmt: skip
        case.check(practice("confirm_receipt", amount_pence=0))


def test_a_practice_under_the_old_rules_closes_paid_at_any_amount() -> None:
    case = practice_case(rules=LEGACY_RULES)
    case.apply(
        practice("submit_return", counts={"patients_reviewed": 12, "recall_appointments": 4}), london(2026, 12, 21)
    )
    case.close_returns()
    case.notify_share(SHARE, london(2027, 1, 6))
    case.apply(practice("confirm_receipt", amount_pence=20_000), london(2027, 2, 26, 11))
    assert case.outcome == "paid"


# --- declarations ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("response", "error"),
    [
        (officer("declare_interest", text="E"), "text: 'E' is not a party's code"),
        (officer("declare_interest", text="QKS", reasons="x" * 600), "reasons: the nature of the interest"),
        (officer("declare_interest", text=" "), "text: name the party"),
    ],
)
def test_a_malformed_declaration_is_refused_naming_the_field(response: object, error: str) -> None:
    case, _ = open_claim(OPENED)
    with pytest.raises(ResponseRefused, match=error):
        case.check_interest(response)  # type: ignore[arg-type]
    assert case.declared_interests == []


def test_a_dispute_tells_the_senior_contact_what_happened_so_far() -> None:
    case = acknowledged()
    case.apply(payer("reject", reasons="Not commissioned work"), london(2026, 12, 16, 10))
    _, effects = case.apply(
        officer("dispute", reasons="Every category breaches the contract"), london(2026, 12, 17, 10)
    )
    [letter] = emails(effects)
    story = " ".join(letter.paragraphs)
    assert letter.to.email == case.payer.contact_at(2).email
    assert "What happened so far" in story and case.payer.contact_at(1).name in story
    assert "rejected the claim, saying: Not commissioned work" in story
    assert "Every category breaches the contract" in story


def test_a_pathology_start_refuses_an_error_ahead_of_today_and_a_year_end_that_cannot_be_a_deadline() -> None:
    data = example("pathology_nwl_uacr.json")
    today = date(2026, 11, 26)
    data |= {"error_end": "2026-12-01", "year_end_reconciliation_date": "2027-03-27", "return_deadline": None}
    problems = request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR, today)
    assert "is after today (26 November 2026)" in problems["error_end"]
    assert "error_start" not in problems
    assert "Saturday" in problems["year_end_reconciliation_date"]
    data |= {"error_end": "2025-01-31", "year_end_reconciliation_date": "2026-03-31"}
    past = request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR, today)
    assert list(past) == ["year_end_reconciliation_date"] and "in the past" in past["year_end_reconciliation_date"]
    data |= {"year_end_reconciliation_date": "2027-01-04", "return_deadline": "2027-01-05"}
    early = request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR, today)
    assert "not after practices' returns are due (5 January 2027)" in early["year_end_reconciliation_date"]
    data["return_deadline"] = None  # returns then fall due the policy's working days after the start
    by_default = PathologyRequest.model_validate(data)
    later = request_problems(by_default, LEGACY_CALENDAR, today, returns_due=date(2027, 1, 6))
    assert "returns are due (6 January 2027)" in later["year_end_reconciliation_date"]
    data["year_end_reconciliation_date"] = "2027-03-31"
    assert request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR, today) == {}
    # a recorded run opens its case again with no `today`: dates that have since passed still open
    assert request_problems(PathologyRequest.model_validate(data), LEGACY_CALENDAR) == {}


def test_a_deregistration_start_refuses_a_cut_off_before_its_rate_year_and_an_incident_yet_to_begin() -> None:
    data = example("deregistration_nwl_pathfinder.json") | {"rate_year": "2025/26", "still_off_until": "2025-03-31"}
    today = date(2026, 11, 26)
    problems = deregistration_problems(DeregistrationRequest.model_validate(data), today)
    assert "before the rate year 2025/26 begins (1 April 2025)" in problems["still_off_until"]
    data |= {"still_off_until": "2027-01-15"}  # days in 2026/27, priced at 2025/26's rate
    after = deregistration_problems(DeregistrationRequest.model_validate(data), today)
    assert "after the rate year 2025/26 ends (31 March 2026)" in after["still_off_until"]
    data |= {"rate_year": "2026/27", "incident_start": "2027-01-04", "still_off_until": "2027-03-31"}
    ahead = deregistration_problems(DeregistrationRequest.model_validate(data), today)
    assert list(ahead) == ["incident_start"] and "after today" in ahead["incident_start"]
    data |= {"incident_start": "2025-06-01"}  # a cut-off ahead of today: claimed to the year end
    assert deregistration_problems(DeregistrationRequest.model_validate(data), today) == {}


def test_a_practice_corrects_a_mistyped_receipt_and_its_share_is_weighed_again() -> None:
    """£99,999,999 typed for £244: recorded as paid over, and the practice may correct the amount it confirmed (what
    that confirmation added is replaced), while the LMC decides; corrected to the share, the case closes paid."""
    case = share_notified()
    case.apply(practice("confirm_receipt", amount_pence=9_999_999_900), london(2027, 2, 26, 11))
    assert case.status == "overpaid" and case.actions_for(Role.PRACTICE) == ["correct_receipt"]
    with pytest.raises(ResponseRefused, match="amount_pence: give the amount that arrived"):
        case.check(practice("correct_receipt"))
    result, effects = case.apply(practice("correct_receipt", amount_pence=20_000), london(2027, 2, 26, 12))
    assert (case.status, case.received_pence, case.payment_gap()) == ("underpaid", 20_000, -4_400)
    assert result.message.startswith("Recorded: £200.00 received against £244.00 due: £44.00 short.")
    assert audits(effects) == ["response:correct_receipt", "underpaid"]
    assert (
        emails(effects)[0]
        .paragraphs[0]
        .endswith(
            "corrects the payment it confirmed to £200.00: it has now received £200.00 against its share of £244.00: "
            "£44.00 less than its share."
        )
    )
    _, effects = case.apply(practice("correct_receipt", amount_pence=24_400), london(2027, 2, 26, 13))
    assert (case.outcome, case.received_pence) == ("paid", 24_400)
    assert mail(effects) == [("receipt-corrected", OFFICER, [])]  # told the decision asked of it is not needed
    assert "received its share of £244.00 in full" in emails(effects)[0].paragraphs[0]


def test_a_correction_replaces_only_the_latest_payment_confirmed() -> None:
    """A first payment of £200, the rest chased, then £4,400 typed for £44: corrected, the first £200 still counts."""
    case = share_notified()
    case.apply(practice("confirm_receipt", amount_pence=20_000), london(2027, 2, 26, 11))
    case.apply(officer("chase_balance"), london(2027, 3, 1, 10))
    case.apply(practice("confirm_receipt", amount_pence=440_000), london(2027, 3, 30, 11))
    assert case.status == "overpaid"
    case.apply(practice("correct_receipt", amount_pence=4_400), london(2027, 3, 30, 12))
    assert (case.outcome, case.received_pence) == ("paid", 24_400)
