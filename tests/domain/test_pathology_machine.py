"""Pathology error compensation (PathologyCase on the shared IncidentCase), without Temporal: the NWL
uACR incident with its 40 practices, its returns deadline, the officer's actions, the payer requests it
runs alongside, the claim when returns close, the shares when the claim closes, and closing.

    collecting_returns ──deadline, or close_returns──▶ returns_closed ──returns loaded──▶ claiming
        (extend_returns moves the deadline)                                                  │
    claiming ──claim child closed──▶ paying (shares: pro rata, largest remainder; £0 if not agreed)
    paying ──every practice settled and every request closed──▶ closed (settled)
    close_incident (officer, with reasons): from any open state ──▶ closed (closed_by_officer)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from domain.contacts import Role
from domain.escalation import AuditEffect, Effect, ResponseRefused
from domain.incident import ChildState, CloseChildren, LoadReturns, StartChild, StartPractices, TellPractices
from domain.pathology import PathologyCase
from domain.practice_return import ReturnItem, ReturnRecord, ShareNotice
from domain.responses import ResponseInput
from tests.domain.builders import (
    CHAIR,
    IMPERIAL,
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
    of_type,
    officer,
    open_pathology,
    payer,
    state,
    wait_of,
)

OPENED = london(2026, 12, 22, 10)  # Tuesday before Christmas
RETURNS_DUE = five_pm(2027, 1, 15)  # 15 working days on: 25, 28 Dec and 1 Jan are holidays
CLOSED_AT = london(2027, 1, 18, 9)
CODES = [f"E877{n:02d}" for n in range(40)]
ON_TIME = [
    ReturnRecord(
        ods="E87700", counts={"patients_reviewed": 10, "recall_appointments": 4, "repeat_tests": 2, "admin_hours": 1}
    ),
    ReturnRecord(
        ods="E87701", counts={"patients_reviewed": 5, "recall_appointments": 0, "repeat_tests": 0, "admin_hours": 2}
    ),
]
LATE = ReturnRecord(ods="E87702", counts={"patients_reviewed": 99, "recall_appointments": 0, "repeat_tests": 0, "admin_hours": 0}, late=True)  # fmt: skip
CLAIMED = {"E87700": 26_600, "E87701": 12_000}  # 10 x £12 + 4 x £25 + 2 x £8 + 1 x £30; 5 x £12 + 2 x £30


def opened() -> PathologyCase:
    return open_pathology(OPENED)[0]


def claiming() -> PathologyCase:
    case = opened()
    case.on_timer(RETURNS_DUE)
    case.on_returns_loaded([*ON_TIME, LATE], CLOSED_AT)
    assert case.status == "claiming"
    return case


def agreed(amount: int, on: date | None = date(2027, 3, 31)) -> ChildState:
    return ChildState(child_id="PEC-2026-TEST01-CLAIM", outcome="agreed", amount_pence=amount, on_date=on)


def paying() -> PathologyCase:
    case = claiming()
    case.on_child_closed("claim", agreed(30_000), london(2027, 2, 1))
    return case


# --- opening ------------------------------------------------------------------------------
def test_opening_starts_every_practice_and_both_payer_requests() -> None:
    case, effects = open_pathology(OPENED)
    assert (case.kind, case.status, case.returns_open, case.payer.code, case.icb.code) == (
        "pathology_error", "collecting_returns", True, "RYJ", "QRV",
    )  # fmt: skip
    assert wait_of(case) == ("returns", Role.PRACTICE, RETURNS_DUE) and case.next_timer() == RETURNS_DUE
    assert audits(effects) == ["incident_opened"] and mail(effects) == []
    assert effects[0].model_dump()["detail"] == {
        "practices": 40,
        "payer": "RYJ",
        "returns_deadline": RETURNS_DUE.isoformat(),
    }
    [start] = of_type(effects, StartPractices)
    assert [p.ods for p in start.practices] == CODES
    assert (start.return_kind, start.returns_deadline) == ("counts", RETURNS_DUE)
    assert start.items[1] == ReturnItem(
        key="recall_appointments", label="Recall appointment (example rate)", rate_pence=2500
    )
    assert start.context == [
        ("Trust", "Imperial College Healthcare NHS Trust"),
        ("Test", "urine albumin:creatinine ratio (uACR) (North West London Pathology)"),
        ("Error window", "1 October 2024 to 31 January 2025"),
    ]
    year_end, report = of_type(effects, StartChild)
    assert (year_end.topic, year_end.child_id, year_end.payer.code) == ("year_end", "PEC-2026-TEST01-YEAR-END", "QRV")
    assert year_end.confirmation is not None
    assert (year_end.confirmation.deadline_date, year_end.confirmation.may_refuse) == (date(2027, 3, 31), True)
    assert (report.topic, report.child_id, report.payer.code) == (
        "incident_report",
        "PEC-2026-TEST01-INCIDENT-REPORT",
        "RYJ",
    )
    assert report.confirmation is not None
    assert (report.confirmation.deadline_days, report.confirmation.may_refuse) == (20, False)
    assert set(year_end.parties) == set(report.parties) == {*CODES, "RYJ", "QRV"}
    assert {t: c.outcome for t, c in case.children.items()} == {"year_end": None, "incident_report": None}


@pytest.mark.parametrize(
    ("sent", "changes", "due"),
    [
        (OPENED, {}, RETURNS_DUE),
        (london(2026, 8, 17, 10), {}, five_pm(2026, 9, 8)),  # over the summer bank holiday, in BST
        (london(2027, 3, 15, 10), {}, five_pm(2027, 4, 7)),  # over Good Friday and Easter Monday 2027
        (OPENED, {"return_deadline": "2027-01-29"}, five_pm(2027, 1, 29)),  # the officer's date, at 17:00
    ],
)
def test_the_returns_deadline(sent: datetime, changes: dict[str, str], due: datetime) -> None:
    case, effects = open_pathology(sent, **changes)
    assert case.returns_deadline == due == of_type(effects, StartPractices)[0].returns_deadline


def test_a_bst_returns_deadline_is_five_pm_london() -> None:
    case, _ = open_pathology(london(2026, 8, 17, 10))
    assert case.returns_deadline.astimezone(UTC).hour == 16


# --- what is open where -------------------------------------------------------------------
def closed() -> PathologyCase:
    case = opened()
    case.apply(officer("close_incident", reasons="Settled outside the engine"), OPENED)
    return case


@pytest.mark.parametrize(
    ("build", "status", "officer_may"),
    [
        (opened, "collecting_returns", ["extend_returns", "close_returns", "close_incident", "declare_interest"]),
        (claiming, "claiming", ["close_incident", "declare_interest"]),
        (paying, "paying", ["close_incident", "declare_interest"]),
        (closed, "closed", []),
    ],
)
def test_only_the_officer_acts_on_the_incident(
    build: Callable[[], PathologyCase], status: str, officer_may: list[str]
) -> None:
    case = build()
    assert case.status == status
    assert case.actions_for(Role.OFFICER) == officer_may
    assert case.actions_for(Role.PAYER) == case.actions_for(Role.PRACTICE) == case.actions_for(Role.OBSERVER) == []


# --- the officer's actions ----------------------------------------------------------------
def test_extending_returns_moves_the_deadline_and_tells_the_practices() -> None:
    case = opened()
    result, effects = case.apply(officer("extend_returns", on_date=date(2027, 1, 29)), london(2027, 1, 11))
    assert (case.status, case.returns_deadline, case.next_timer()) == (
        "collecting_returns",
        five_pm(2027, 1, 29),
        five_pm(2027, 1, 29),
    )
    assert wait_of(case) == ("returns", Role.PRACTICE, five_pm(2027, 1, 29))
    assert audits(effects) == ["response:extend_returns"]
    assert effects[0].model_dump()["detail"] == {"status_before": "collecting_returns", "on_date": "2027-01-29"}
    assert of_type(effects, TellPractices) == [TellPractices(message="extend", deadline=five_pm(2027, 1, 29))]
    assert result.message == "Returns now close at Friday 29 January 2027, 5pm."


def test_closing_returns_early_tells_the_practices_and_stops_the_timer() -> None:
    case = opened()
    result, effects = case.apply(officer("close_returns"), london(2027, 1, 11))
    assert (case.status, case.returns_open, case.wait, case.next_timer()) == ("returns_closed", False, None, None)
    assert audits(effects) == ["response:close_returns"]
    assert of_type(effects, TellPractices) == [TellPractices(message="close_returns")]
    assert result.message == "Returns closed; the schedule is being prepared."


@pytest.mark.parametrize(
    ("build", "response", "error"),
    [
        (opened, officer("extend_returns"), "on_date: give the new return deadline"),
        (opened, officer("extend_returns", on_date=date(2027, 1, 15)),
         "must be after the current one \\(Friday 15 January 2027, 5pm\\)"),
        (opened, officer("extend_returns", on_date=date(2027, 1, 8)), "must be after the current one"),
        (opened, officer("close_incident"), "reasons: say why the incident is being closed"),
        (opened, officer("close_incident", reasons="  "), "reasons: say why"),
        (claiming, officer("extend_returns", on_date=date(2027, 2, 26)), "'Extend the return deadline' is not open"),
        (claiming, officer("close_returns"), "'Close returns now' is not open at this stage \\(claim with the payer\\)"),
        (opened, officer("withdraw", reasons="x"), "'withdraw' is not open"),
        (opened, officer("close_returns", email=CHAIR), "not an officer of Example Local Medical Committee"),
        (opened, payer("close_returns", email=IMPERIAL[0]), "nothing is open to you now"),
        (opened, payer("close_returns", email=KENT[0]), "not a contact of Imperial College Healthcare NHS Trust"),
        (opened, as_role(Role.PRACTICE, "close_returns", "pm.e87700@nhs.example"), "nothing is open to you now"),
        (closed, officer("close_incident", reasons="Again"), "closed \\(closed by the LMC officer\\)"),
    ],
)  # fmt: skip
def test_refusals_change_nothing(build: Callable[[], PathologyCase], response: ResponseInput, error: str) -> None:
    case = build()
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.apply(response, london(2027, 1, 11))
    assert state(case) == before


def test_the_officer_closes_the_incident_with_reasons_naming_what_was_still_open() -> None:
    case = claiming()
    result, effects = case.apply(officer("close_incident", reasons="Agreed at the liaison meeting"), london(2027, 2, 1))
    assert (case.status, case.outcome, case.closing_reason) == (
        "closed",
        "closed_by_officer",
        "Agreed at the liaison meeting",
    )
    assert audits(effects) == ["response:close_incident", "closed"]
    assert effects[-1].model_dump() == {
        "kind": "audit",
        "event": "closed",
        "actor": OFFICER,
        "detail": {
            "outcome": "closed_by_officer",
            "open_items": ["year_end", "incident_report", "claim"],
            "reasons": "Agreed at the liaison meeting",
        },
    }
    assert of_type(effects, TellPractices) == [TellPractices(message="close", reason="Agreed at the liaison meeting")]
    assert of_type(effects, CloseChildren) == [CloseChildren(reason="Agreed at the liaison meeting")]
    assert (
        result.message
        == "The incident is closed. Still open were: year-end reconciliation, incident report, compensation claim."
    )


def test_closing_after_every_practice_settled_tells_the_practices_nothing() -> None:
    case = paying()
    case.on_practices_settled()
    _, effects = case.apply(officer("close_incident", reasons="The ICB will not answer"), london(2027, 4, 1))
    assert of_type(effects, TellPractices) == [] and len(of_type(effects, CloseChildren)) == 1


# --- returns close: by the deadline ---------------------------------------------------------
@pytest.mark.parametrize("now", [five_pm(2027, 1, 15).replace(hour=16, minute=59), london(2027, 1, 14, 17)])
def test_before_the_deadline_the_timer_changes_nothing(now: datetime) -> None:
    case = opened()
    before = state(case)
    assert case.on_timer(now) == [] and state(case) == before


def test_at_the_deadline_returns_close_by_themselves() -> None:
    case = opened()
    effects = case.on_timer(RETURNS_DUE)
    assert (case.status, case.returns_open, case.wait, case.next_timer()) == ("returns_closed", False, None, None)
    assert audits(effects) == ["returns_deadline_reached"]
    assert of_type(effects, TellPractices) == [TellPractices(message="close_returns")]
    assert case.on_returns_closed_everywhere() == [LoadReturns()]


def test_loaded_returns_are_priced_late_ones_left_out_and_the_claim_started() -> None:
    case = opened()
    case.on_timer(RETURNS_DUE)
    effects = case.on_returns_loaded([*ON_TIME, LATE], CLOSED_AT)
    assert (case.claimed, case.total_claimed, case.late_returns) == (CLAIMED, 38_600, ["E87702"])
    assert case.item_totals == {"patients_reviewed": 15, "recall_appointments": 4, "repeat_tests": 2, "admin_hours": 3}
    assert case.status == "claiming"
    assert audits(effects) == ["returns_collected"]
    detail = effects[0].model_dump()["detail"]
    assert (detail["returned"], detail["missing"], detail["total_pence"]) == (2, 37, 38_600)
    assert detail["first_missing"] == CODES[3:]
    assert mail(effects) == [("returns-collected", OFFICER, [])]
    assert emails(effects)[0].paragraphs == [
        "2 of 40 practices returned, totalling £386.00.",
        f"No return from: {', '.join(CODES[3:23])} and 17 more.",
    ]
    [claim] = of_type(effects, StartChild)
    assert (claim.topic, claim.child_id, claim.payer.code, claim.claimed_pence, claim.confirmation) == (
        "claim", "PEC-2026-TEST01-CLAIM", "RYJ", 38_600, None,
    )  # fmt: skip
    assert claim.claim_facts == [
        ("Practices claiming", "2"),
        ("Affected patient reviewed, in all", "15"),
        ("Recall appointment, in all", "4"),
        ("Repeat test arranged, in all", "2"),
        ("Hour of admin time, in all", "3"),
    ]  # each practice's line is in the schedule
    assert [(line.ods, line.pence) for line in claim.schedule] == [("E87700", 26_600), ("E87701", 12_000)]
    assert case.must_wait_for() == ["year_end", "incident_report", "claim"]
    facts = dict(case.facts())
    assert facts["Claimed"] == "£386.00" and facts["Late returns (not claimed)"] == "E87702"


# --- the children report back ---------------------------------------------------------------
def test_a_payer_request_closing_is_recorded_and_changes_nothing_else() -> None:
    case = claiming()
    effects = case.on_child_closed(
        "year_end", ChildState(child_id="PEC-2026-TEST01-YEAR-END", outcome="refused"), london(2027, 2, 1)
    )
    assert audits(effects) == ["child_closed"]
    assert effects[0].model_dump()["detail"] == {
        "topic": "year_end",
        "child": "PEC-2026-TEST01-YEAR-END",
        "outcome": "refused",
    }
    assert (case.status, case.outcome, case.must_wait_for()) == ("claiming", None, ["incident_report", "claim"])


@pytest.mark.parametrize(
    ("pot", "shares"),
    [
        (
            30_000,
            {"E87700": 20_674, "E87701": 9_326},
        ),  # 20,673.57 and 9,326.42: the spare penny to the larger remainder
        (38_600, CLAIMED),  # agreed in full
        (1, {"E87700": 1, "E87701": 0}),
    ],
)
def test_an_agreed_claim_pays_each_practice_its_share_exactly(pot: int, shares: dict[str, int]) -> None:
    case = claiming()
    effects = case.on_child_closed("claim", agreed(pot), london(2027, 2, 1))
    assert (case.status, case.agreed_pence, case.shares) == ("paying", pot, shares)
    assert sum(case.shares.values()) == pot
    assert audits(effects) == ["child_closed", "shares_allocated"]
    assert effects[1].model_dump()["detail"] == {
        "pot_pence": pot,
        "total_claimed_pence": 38_600,
        "allocated_pence": pot,
        "surplus_pence": 0,
    }
    [tell] = of_type(effects, TellPractices)
    assert tell.message == "shares" and tell.shares is not None and len(tell.shares) == 40
    assert {ods: n.amount_pence for ods, n in tell.shares.items() if n.amount_pence} == {
        k: v for k, v in shares.items() if v
    }
    notice = tell.shares["E87700"]
    assert notice.due == date(2027, 3, 31) and "has agreed" in notice.explanation
    assert tell.shares["E87739"] == ShareNotice(amount_pence=0, due=date(2027, 3, 31), explanation=notice.explanation)


def test_an_agreed_claim_without_a_date_is_due_the_day_it_closed() -> None:
    case = claiming()
    effects = case.on_child_closed("claim", agreed(38_600, on=None), london(2027, 2, 1))
    [tell] = of_type(effects, TellPractices)
    assert tell.shares is not None and tell.shares["E87700"].due == date(2027, 2, 1)


@pytest.mark.parametrize("outcome", ["withdrawn", "closed_by_officer"])
def test_a_claim_closed_without_agreement_tells_every_practice_nothing_is_due(outcome: str) -> None:
    case = claiming()
    effects = case.on_child_closed(
        "claim", ChildState(child_id="PEC-2026-TEST01-CLAIM", outcome=outcome), london(2027, 2, 1)
    )
    assert case.status == "paying" and set(case.shares.values()) == {0}
    [tell] = of_type(effects, TellPractices)
    assert tell.shares is not None and {n.amount_pence for n in tell.shares.values()} == {0}
    assert "without agreement" in tell.shares["E87700"].explanation


# --- closing by itself ----------------------------------------------------------------------
def close_children(case: PathologyCase, topics: list[str]) -> list[Effect]:
    effects: list[Effect] = []
    for topic in topics:
        effects += case.on_child_closed(topic, ChildState(child_id=topic, outcome="confirmed"), london(2027, 3, 1))
    return effects


def test_it_closes_settled_once_every_practice_is_settled_and_every_request_closed() -> None:
    case = paying()
    assert audits(case.on_practices_settled()) == ["practices_settled"]
    assert case.outcome is None and case.practices_settled  # still open: two requests outstanding
    assert audits(close_children(case, ["year_end"])) == ["child_closed"] and case.outcome is None
    effects = close_children(case, ["incident_report"])
    assert (case.status, case.outcome, case.wait) == ("closed", "settled", None)
    assert audits(effects) == ["child_closed", "closed"]
    assert mail(effects) == [("settled", OFFICER, [])]


def test_it_closes_when_the_practices_settle_last() -> None:
    case = paying()
    close_children(case, ["year_end", "incident_report"])
    assert case.outcome is None  # the practices have not all settled
    effects = case.on_practices_settled()
    assert audits(effects) == ["practices_settled", "closed"] and case.outcome == "settled"


# --- conflicts ------------------------------------------------------------------------------
def test_the_incidents_parties_are_the_trust_the_icb_and_every_practice() -> None:
    case = opened()
    assert case.parties() == {*CODES, "RYJ", "QRV"}
    assert case.conflict(officer("close_returns", email=MEDSEC)) is None  # Hanwell Surgery is not in this incident
    case.declare_interest(officer("declare_interest", email=MEDSEC, text="QRV", reasons="Seconded to the ICB"))
    assert case.conflict(officer("close_returns", email=MEDSEC)) is not None
    assert case.conflict(payer("close_returns", email=NWL[0])) is None


# --- rules that look wrong (left unfixed; see the reasons) -----------------------------------
@pytest.mark.parametrize(
    ("on", "offered"),
    [(date(2026, 12, 28), "29 December 2026"), (date(2027, 1, 2), "4 January 2027")],
    ids=["boxing-day-substitute", "saturday"],
)
def test_extending_to_a_bank_holiday_or_weekend_is_refused_offering_the_next_working_day(
    on: date, offered: str
) -> None:
    case, _ = open_pathology(london(2026, 12, 1, 10))  # returns close 17:00 Tuesday 22 December 2026
    assert case.returns_deadline == five_pm(2026, 12, 22)
    with pytest.raises(ResponseRefused, match=offered):
        case.check(officer("extend_returns", on_date=on))


def test_a_return_deadline_on_a_bank_holiday_is_refused() -> None:
    with pytest.raises(ValueError, match="28 December 2026|29 December 2026|working day"):
        open_pathology(london(2026, 12, 1, 10), return_deadline="2026-12-25")


def test_an_incident_closed_while_collecting_returns_says_the_returns_were_still_open() -> None:
    case = opened()
    result, effects = case.apply(officer("close_incident", reasons="Settled outside the engine"), OPENED)
    [closed_row] = [e for e in effects if isinstance(e, AuditEffect) and e.event == "closed"]
    assert closed_row.detail["returns_open"] is True
    assert result.message.endswith("Still open were: year-end reconciliation, incident report, practices' returns.")


def test_a_nil_return_is_not_counted_among_the_practices_claiming() -> None:
    """A practice that returned zeros claims nothing: the trust reads '2 (and 1 practice with nothing to claim)',
    where it read 'Practices claiming: 3' beside £0.00."""
    case = opened()
    case.on_timer(RETURNS_DUE)
    nil = ReturnRecord(ods="E87703", counts=dict.fromkeys(ON_TIME[0].counts or {}, 0))
    effects = case.on_returns_loaded([*ON_TIME, nil], CLOSED_AT)
    [claim] = of_type(effects, StartChild)
    assert ("Practices claiming", "2 (and 1 practice with nothing to claim)") in claim.claim_facts
