"""The mechanism every kind shares (domain/escalation.py), without Temporal: a missed payer deadline
reminds, then climbs the ladder (level 3 copies the chair and flags the liaison agenda), then stalls;
the LMC's own waits only remind the officer, then are marked overdue; the payer's clock pauses while
it waits on the LMC; conflicts of interest; and a closed case refuses everything."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from domain import wording
from domain.contacts import Role
from domain.escalation import EscalationCase, ResponseRefused
from domain.practice_return import ShareNotice
from domain.responses import ResponseInput
from domain.unfunded_claim import ClaimCase
from tests.domain.builders import (
    CHAIR,
    IMPERIAL,
    KENT,
    MEDSEC,
    NWL,
    OFFICER,
    as_role,
    audit_entries,
    audits,
    child_request,
    config,
    emails,
    fire,
    five_pm,
    london,
    mail,
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

OPENED = london(2026, 12, 22, 10)  # Tuesday: the acknowledgement is due 17:00 Tuesday 29 December 2026
SUBMITTED_ACTIONS = ["acknowledge", "accept", "accept_part", "commission", "reject", "request_info"]


def claim() -> ClaimCase:
    case, _ = open_claim(OPENED)
    return case


# --- the payer's ladder -----------------------------------------------------------------
# Each miss of the acknowledgement: (level after, deadline after, email (purpose, to, cc), audit events,
# on the liaison agenda, stalled). Grace is 5 working days from the missed deadline, holidays skipped.
LADDER = [
    (1, five_pm(2027, 1, 6), ("reminder-acknowledgement-L1", KENT[0], [OFFICER]), ["deadline_missed"], False, False),
    (2, five_pm(2027, 1, 13), ("escalated-acknowledgement-L2", KENT[1], [OFFICER, KENT[0]]),
     ["deadline_missed", "ladder_climbed"], False, False),
    (2, five_pm(2027, 1, 20), ("reminder-acknowledgement-L2", KENT[1], [OFFICER, KENT[0]]), ["deadline_missed"],
     False, False),
    (3, five_pm(2027, 1, 27), ("escalated-acknowledgement-L3", KENT[2], [OFFICER, KENT[0], CHAIR]),
     ["deadline_missed", "ladder_climbed"], True, False),
    (3, five_pm(2027, 2, 3), ("reminder-acknowledgement-L3", KENT[2], [OFFICER, KENT[0], CHAIR]), ["deadline_missed"],
     True, False),
    (3, None, ("stalled-acknowledgement", OFFICER, []), ["deadline_missed", "stalled"], True, True),
]  # fmt: skip


def test_missed_deadlines_remind_then_climb_to_level_three_then_stall() -> None:
    case = claim()
    missed = five_pm(2026, 12, 29)
    for misses, (level, deadline, sent, events, agenda, stalled) in enumerate(LADDER, start=1):
        assert case.next_timer() == missed
        effects = fire(case)
        assert case.wait is not None
        assert (case.wait.misses, case.ladder.level, case.wait.deadline) == (misses, level, deadline), misses
        assert (case.ladder.on_liaison_agenda, case.ladder.stalled) == (agenda, stalled), misses
        assert mail(effects) == [sent], misses
        assert audits(effects) == events, misses
        assert effects[0].model_dump()["detail"] == {
            "wait": "acknowledgement",
            "deadline": missed.isoformat(),
            "misses": misses,
        }
        (email,) = emails(effects)
        assert email.actions == (SUBMITTED_ACTIONS if email.to_role is Role.PAYER else case.actions_for(Role.OFFICER))
        if deadline is not None:
            missed = deadline
    # Stalled: no timer, the escalation stays open, nothing closes it by itself.
    assert case.next_timer() is None and case.on_timer(london(2027, 6, 1)) == []
    assert (case.status, case.outcome, case.wait and case.wait.overdue) == ("submitted", None, True)


def test_what_each_ladder_email_says() -> None:
    case = claim()
    reminder, climb2, _, climb3, _, stall = (emails(fire(case))[0] for _ in LADDER)
    assert reminder.subject == (
        "[UWC-2026-TEST01] Reminder: acknowledgement overdue, please respond by Wednesday 6 January 2027"
    )
    assert reminder.paragraphs[0].startswith(
        "On Tuesday 22 December 2026, Example Local Medical Committee asked NHS Kent and Medway ICB for an "
        "acknowledgement that the claim was received about"
    )
    assert "by Tuesday 29 December 2026, 5pm. We have not had it, so it is now overdue." in reminder.paragraphs[0]
    assert reminder.paragraphs[1] == (
        "Please respond by Wednesday 6 January 2027, 5pm, using the link below. "
        "If we have no response by then, the LMC will write to Bobbie Bowes, Director of Primary Care."
    )
    assert climb2.headline.startswith("Escalated to you: acknowledgement overdue")
    assert "asked Ian Ayres (Primary Care Contracting Manager) for an acknowledgement" in climb2.paragraphs[1]
    assert "A reminder followed on" in climb2.paragraphs[1]
    assert not any("liaison" in p for p in climb2.paragraphs)
    assert (
        "Ian Ayres (Primary Care Contracting Manager) and Bobbie Bowes (Director of Primary Care)"
        in (climb3.paragraphs[1])
    )
    assert "agenda of the next LMC liaison meeting" in climb3.paragraphs[-1]
    assert stall.headline == "Stalled: no response at the top of the ladder"
    assert "(Chief Medical Officer)" in stall.paragraphs[0]


def test_climbing_records_the_level_and_the_contact_reached() -> None:
    case = claim()
    climbed = [
        e.model_dump()["detail"] for _ in LADDER for e in fire(case) if getattr(e, "event", "") == "ladder_climbed"
    ]
    assert climbed == [
        {"level": 2, "contact": "Director of Primary Care"},
        {"level": 3, "contact": "Chief Medical Officer"},
    ]


@pytest.mark.parametrize(
    ("now", "fires"),
    [
        (five_pm(2026, 12, 29) - timedelta(minutes=1), False),
        (london(2026, 12, 28, 12), False),
        (five_pm(2026, 12, 29), True),
        (london(2026, 12, 30, 9), True),
    ],
)
def test_the_timer_acts_at_the_deadline_not_before(now: datetime, fires: bool) -> None:
    case = claim()
    before = state(case)
    effects = case.on_timer(now)
    assert bool(effects) is fires
    if not fires:
        assert state(case) == before


def test_a_late_timer_gives_the_grace_from_when_it_fired() -> None:
    case = claim()
    case.on_timer(london(2027, 1, 4, 9))  # a worker down over Christmas wakes on Monday 4 January
    assert case.wait is not None and case.wait.deadline == five_pm(2027, 1, 11)


def test_a_response_after_stalling_clears_it_but_keeps_the_level_reached() -> None:
    case = claim()
    for _ in LADDER:
        fire(case)
    case.check(payer("acknowledge", email=KENT[0]))  # any contact ever sent a link may still respond
    case.check(payer("acknowledge", email=KENT[1]))
    _, effects = case.apply(payer("acknowledge", email=KENT[0]), london(2027, 2, 8, 9))
    assert (case.ladder.stalled, case.ladder.level, case.ladder.on_liaison_agenda) == (False, 3, True)
    assert case.wait is not None and (case.wait.purpose, case.wait.misses) == ("decision", 0)
    assert case.wait.deadline == five_pm(2027, 3, 8)  # 20 working days from Monday 8 February 2027
    assert mail(effects) == [("acknowledged", OFFICER, [])]
    # At the top already: a missed decision reminds the most senior contact, then stalls again.
    assert mail(fire(case)) == [("reminder-decision-L3", KENT[2], [OFFICER, KENT[0], CHAIR])]
    assert audits(fire(case)) == ["deadline_missed", "stalled"] and case.ladder.stalled


def test_the_ladder_is_the_same_for_every_kind_with_a_payer_wait() -> None:
    compensation, _ = open_compensation(OPENED)
    assert mail(fire(compensation)) == [("reminder-acknowledgement-L1", IMPERIAL[0], [OFFICER, NWL[0]])]
    assert [m[:2] for m in mail(fire(compensation))] == [("escalated-acknowledgement-L2", IMPERIAL[1])]
    _, effects = open_deregistration(OPENED)
    confirmation, _ = open_confirmation(
        child_request(effects, "icb_message"), config().policy("deregistration"), OPENED
    )
    assert mail(fire(confirmation)) == [("reminder-icb_message-L1", NWL[0], [OFFICER])]
    assert [m[:2] for m in mail(fire(confirmation))] == [("escalated-icb_message-L2", NWL[1])]


# --- disputes climb too -----------------------------------------------------------------
def test_a_dispute_climbs_one_level_and_stops_at_the_top() -> None:
    case = claim()
    levels = []
    for day in (4, 5, 6):
        case.apply(payer("reject", email=KENT[0], reasons="No"), london(2027, 1, day, 9))
        _, effects = case.apply(officer("dispute", reasons="It breaches the contract"), london(2027, 1, day, 10))
        levels.append((case.ladder.level, mail(effects)[0][1]))
    assert levels == [(2, KENT[1]), (3, KENT[2]), (3, KENT[2])]


def test_a_dispute_that_reaches_level_three_puts_it_on_the_liaison_agenda() -> None:
    case = claim()
    for day in (4, 5):
        case.apply(payer("reject", reasons="No"), london(2027, 1, day, 9))
        _, effects = case.apply(officer("dispute", reasons="It breaches the contract"), london(2027, 1, day, 10))
    assert case.ladder.level == 3 and CHAIR in mail(effects)[0][2]
    assert case.ladder.on_liaison_agenda
    assert any("agenda of the next LMC liaison meeting" in p for p in emails(effects)[0].paragraphs)


# --- the LMC's own waits ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "purpose", "open_to_officer"),
    [
        (payer("accept_part", amount_pence=100_000, reasons="Part"), "officer_reply",
         ["accept_offer", "dispute", "withdraw", "declare_interest"]),
        (payer("reject", reasons="No"), "officer_reply", ["dispute", "withdraw", "declare_interest"]),
        (payer("request_info", text="Which letters?"), "information", ["supply_info", "withdraw", "declare_interest"]),
    ],
)  # fmt: skip
def test_an_officer_wait_only_reminds_the_officer_then_is_marked_overdue(
    question: ResponseInput, purpose: str, open_to_officer: list[str]
) -> None:
    case = claim()
    case.apply(question, OPENED)
    assert wait_of(case) == (purpose, Role.OFFICER, five_pm(2027, 1, 8))  # 10 working days from 22 Dec 2026
    reminder = fire(case)
    assert mail(reminder) == [(f"reminder-{purpose}", OFFICER, [])]
    assert emails(reminder)[0].actions == open_to_officer and emails(reminder)[0].to_role is Role.OFFICER
    assert audits(reminder) == ["deadline_missed"]
    assert case.wait is not None and case.wait.deadline == five_pm(2027, 1, 15)
    overdue = fire(case)
    assert audits(overdue) == ["deadline_missed", "overdue"] and mail(overdue) == []
    assert case.wait is not None and case.wait.overdue and case.wait.deadline is None and case.next_timer() is None
    assert (case.ladder.level, case.ladder.stalled, case.outcome) == (1, False, None)  # never the payer's ladder


# --- the payer's clock pauses while it waits on the LMC ------------------------------------
def test_the_payer_clock_pauses_for_a_question_and_resumes_with_the_days_it_had_left() -> None:
    case, _ = open_claim(london(2026, 12, 11, 9))
    case.apply(payer("acknowledge"), london(2026, 12, 14, 9))
    assert wait_of(case) == ("decision", Role.PAYER, five_pm(2027, 1, 14))  # 20 working days from 14 Dec 2026
    case.apply(payer("request_info", text="Which practices?"), london(2026, 12, 18, 15))
    assert case.paused_wait is not None
    assert (case.paused_wait.purpose, case.paused_wait.paused_days_left, case.paused_wait.deadline) == (
        "decision",
        16,
        None,
    )
    # Meanwhile only the LMC's wait runs: the payer's 14 January deadline wakes nothing.
    assert wait_of(case) == ("information", Role.OFFICER, five_pm(2027, 1, 6))
    assert case.next_timer() == five_pm(2027, 1, 6)
    case.apply(officer("supply_info", text="All six"), london(2027, 1, 4, 9))
    assert wait_of(case) == ("decision", Role.PAYER, five_pm(2027, 1, 26))  # 16 working days from 4 Jan 2027
    assert case.wait is not None and case.wait.paused_days_left is None


def test_a_question_after_the_deadline_passed_leaves_the_payer_one_day() -> None:
    case = claim()  # acknowledgement due 29 December; the timer has not fired yet
    case.apply(payer("request_info", text="Which practices?"), london(2026, 12, 30, 9))
    assert case.paused_wait is not None and case.paused_wait.paused_days_left == 1
    case.apply(officer("supply_info", text="All six"), london(2026, 12, 31, 9))
    assert wait_of(case) == ("acknowledgement", Role.PAYER, five_pm(2027, 1, 4))


def test_a_question_while_stalled_resumes_with_the_reminder_grace() -> None:
    case = claim()
    for _ in LADDER:
        fire(case)
    case.apply(payer("request_info", email=KENT[2], text="What is this?"), london(2027, 2, 8, 9))
    assert not case.ladder.stalled
    case.apply(officer("supply_info", text="The claim"), london(2027, 2, 9, 9))
    assert wait_of(case) == ("acknowledgement", Role.PAYER, five_pm(2027, 2, 16))  # grace: 5 working days


def test_a_question_resets_the_misses_so_the_next_miss_is_a_reminder() -> None:
    case = claim()
    fire(case)  # reminded: the acknowledgement is now due 6 January 2027
    case.apply(payer("request_info", text="Which practices?"), london(2027, 1, 4, 9))
    case.apply(officer("supply_info", text="All six"), london(2027, 1, 5, 9))
    assert [m[0] for m in mail(fire(case))] == ["reminder-acknowledgement-L1"]


# --- conflicts of interest ----------------------------------------------------------------
def hanwell_claim() -> ClaimCase:
    """A claim for Hanwell Surgery (E85013), in which the medical secretary has a declared interest."""
    case, _ = open_claim(OPENED, practices=["G82001", "E85013"])
    return case


def test_a_conflicted_officer_is_refused_with_the_interest_named_and_audited() -> None:
    case = hanwell_claim()
    response = officer("withdraw", email=MEDSEC, reasons="No longer needed")
    interest = case.conflict(response)
    assert interest is not None and (interest.party, interest.nature) == ("E85013", "GP partner at Hanwell Surgery")
    revision, status = case.revision, case.status
    message, audit = case.refuse_for_conflict(response, interest)
    assert message == (
        "Refused: medsec@lmc.example has declared an interest in E85013 (GP partner at Hanwell Surgery), "
        "a party to this escalation, so may view it but not act on it."
    )
    assert (audit.event, audit.actor, audit.detail) == (
        "refused:conflict_of_interest",
        MEDSEC,
        {"action": "withdraw", "party": "E85013"},
    )
    assert case.revision == revision + 1 and case.status == status  # audited, nothing else changed


@pytest.mark.parametrize(
    "response",
    [
        officer("withdraw", reasons="x"),  # another officer
        payer("acknowledge"),  # payers are never conflicted
        officer("declare_interest", email=MEDSEC, text="E85014"),  # declaring is never blocked
    ],
)
def test_only_the_conflicted_officers_actions_are_barred(response: ResponseInput) -> None:
    assert hanwell_claim().conflict(response) is None


def test_an_interest_elsewhere_does_not_conflict() -> None:
    assert claim().conflict(officer("withdraw", email=MEDSEC, reasons="x")) is None  # Kent practices only


def test_declaring_an_interest_in_a_party_bars_that_officer_from_then_on() -> None:
    case = claim()
    revision = case.revision
    result, effects = case.declare_interest(officer("declare_interest", text=" qks ", reasons="Former ICB employee"))
    assert result.status == "submitted" and "you may view it but not act on it" in result.message
    assert audit_entries(effects) == [
        ("interest_declared", OFFICER, {"party": "QKS", "nature": "Former ICB employee", "party_involved": True})
    ]
    assert case.revision == revision + 1 and case.status == "submitted" and case.wait is not None
    assert case.conflict(officer("withdraw", reasons="x")) is not None
    assert case.conflict(officer("withdraw", email=MEDSEC, reasons="x")) is None
    assert config().lmc.interests == case.lmc.interests  # the configuration is not changed


def test_declaring_an_interest_in_an_uninvolved_party_changes_nothing_else() -> None:
    case = claim()
    result, effects = case.declare_interest(officer("declare_interest", text="E85013"))
    assert result.message == "Interest in E85013 recorded."
    assert audit_entries(effects)[0][2]["party_involved"] is False
    assert case.conflict(officer("withdraw", reasons="x")) is None


def test_declaring_needs_a_party() -> None:
    with pytest.raises(ResponseRefused, match="text: name the party"):
        claim().declare_interest(officer("declare_interest", text="  "))


@pytest.mark.parametrize(
    "response",
    [officer("declare_interest", text="E"), officer("declare_interest", text="QKS", reasons="x" * 600)],
    ids=["one-letter-party", "long-nature"],
)
def test_a_malformed_declaration_is_refused_not_crashed(response: ResponseInput) -> None:
    with pytest.raises(ResponseRefused):
        claim().declare_interest(response)


def test_a_payer_request_inherits_its_incidents_parties_for_conflicts() -> None:
    _, effects = open_deregistration(OPENED)
    request, _ = open_confirmation(child_request(effects, "icb_message"), config().policy("deregistration"), OPENED)
    assert "E85013" in request.parties()
    assert request.conflict(officer("withdraw", email=MEDSEC, reasons="x")) is not None
    assert request.conflict(officer("withdraw", reasons="x")) is None


# --- a closed case refuses everything -------------------------------------------------------
def closed_claim() -> EscalationCase:
    case = claim()
    case.apply(officer("withdraw", reasons="Settled"), OPENED)
    return case


def paid_claim() -> EscalationCase:
    case = claim()
    case.apply(payer("accept"), OPENED)
    case.apply(officer("confirm_payment"), london(2027, 1, 20))
    return case


def agreed_compensation() -> EscalationCase:
    case, _ = open_compensation(OPENED)
    case.apply(payer("accept", email=IMPERIAL[0]), OPENED)
    return case


def confirmed_request() -> EscalationCase:
    _, effects = open_deregistration(OPENED)
    case, _ = open_confirmation(child_request(effects, "icb_message"), config().policy("deregistration"), OPENED)
    case.apply(payer("confirm", email=NWL[0], text="Sent 5 January 2027"), OPENED)
    return case


def paid_practice() -> EscalationCase:
    case = practice_case()
    case.apply(practice("submit_return", counts={"patients_reviewed": 3, "recall_appointments": 1}), OPENED)
    case.close_returns()
    case.notify_share(ShareNotice(amount_pence=6100, due=date(2027, 2, 26), explanation="Your share"), OPENED)
    case.apply(practice("confirm_receipt"), london(2027, 2, 1))
    return case


def closed_pathology() -> EscalationCase:
    case, _ = open_pathology(OPENED)
    case.apply(officer("close_returns"), OPENED)
    case.apply(officer("close_incident", reasons="Withdrawn by agreement"), OPENED)
    return case


def closed_deregistration() -> EscalationCase:
    case, _ = open_deregistration(OPENED)
    case.apply(officer("close_returns"), OPENED)
    case.apply(officer("close_incident", reasons="Paid outside the engine"), OPENED)
    return case


CLOSED: dict[str, Callable[[], EscalationCase]] = {
    "claim-withdrawn": closed_claim,
    "claim-paid": paid_claim,
    "compensation-agreed": agreed_compensation,
    "confirmation-confirmed": confirmed_request,
    "practice-paid": paid_practice,
    "pathology-closed": closed_pathology,
    "deregistration-closed": closed_deregistration,
}
ANYONE = [
    as_role(Role.PAYER, "accept", KENT[0]),
    as_role(Role.PAYER, "confirm", NWL[0], text="x"),
    as_role(Role.PAYER, "acknowledge", IMPERIAL[0]),
    as_role(Role.OFFICER, "withdraw", OFFICER, reasons="x"),
    as_role(Role.OFFICER, "declare_interest", OFFICER, text="QKS"),
    as_role(Role.OFFICER, "close_incident", OFFICER, reasons="x"),
    as_role(Role.PRACTICE, "submit_return", "pm.e87700@nhs.example", counts={"patients_reviewed": 1}),
    as_role(Role.PRACTICE, "confirm_receipt", "pm.e87700@nhs.example"),
]


@pytest.mark.parametrize("build", CLOSED.values(), ids=CLOSED.keys())
def test_a_closed_case_refuses_everything_and_wakes_for_nothing(build: Callable[[], EscalationCase]) -> None:
    case = build()
    assert case.is_closed and case.status == "closed" and case.wait is None
    before = state(case)
    assert [case.actions_for(role) for role in Role] == [[], [], [], []]
    for response in ANYONE:
        with pytest.raises(
            ResponseRefused,
            match=f"closed \\({re.escape(wording.outcome(case.outcome or ''))}\\); nothing more can be recorded",
        ):
            case.check_actor(response)
        with pytest.raises(ResponseRefused, match="closed"):
            case.check(response)
    assert case.next_timer() is None
    assert case.on_timer(london(2030, 1, 1)) == []
    assert case.close_by_parent("incident closed") == []
    assert state(case) == before


@pytest.mark.parametrize("kind", ["pathology", "deregistration"])
def test_an_incident_closed_with_returns_open_wakes_for_nothing(kind: str) -> None:
    case, _ = (open_pathology if kind == "pathology" else open_deregistration)(OPENED)
    case.apply(officer("close_incident", reasons="Dealt with elsewhere"), OPENED)
    assert case.next_timer() is None
    assert case.on_timer(five_pm(2027, 6, 1)) == [] and case.status == "closed"


@pytest.mark.parametrize("build", [claim, lambda: open_compensation(OPENED)[0], lambda: practice_case()])
def test_closing_with_the_parent_closes_an_open_case(build: Callable[[], EscalationCase]) -> None:
    case = build()
    effects = case.close_by_parent("The incident was closed")
    assert (case.outcome, case.status, case.wait, case.next_timer()) == ("closed_by_officer", "closed", None, None)
    assert audit_entries(effects) == [
        ("closed", "engine", {"outcome": "closed_by_officer", "reason": "The incident was closed"})
    ]


def test_a_case_opened_under_earlier_rules_keeps_them_on_replay() -> None:
    """LADDER_AND_TIES changes only cases opened under it: one recorded before climbs and resumes as it did."""
    from domain.escalation import CONSOLE_LISTING

    case = claim()
    case.rules = CONSOLE_LISTING
    for day in (4, 5):
        case.apply(payer("reject", reasons="No"), london(2027, 1, day, 9))
        case.apply(officer("dispute", reasons="It breaches the contract"), london(2027, 1, day, 10))
    assert case.ladder.level == 3 and not case.ladder.on_liaison_agenda
    earlier = claim()
    earlier.rules = CONSOLE_LISTING
    fire(earlier)
    earlier.apply(payer("request_info", text="Which practices?"), london(2027, 1, 4, 9))
    earlier.apply(officer("supply_info", text="All six"), london(2027, 1, 5, 9))
    assert [m[0] for m in mail(fire(earlier))] == ["escalated-acknowledgement-L2"]
