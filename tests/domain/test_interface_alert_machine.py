"""The interface alert without Temporal: when it reaches the provider (the day's digest, or at once if
urgent), the answer deadline, each answer and refusal, the paused clock while the practice is asked, the
ladder on silence; and the pattern and share arithmetic."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.alert_analysis import AlertFigures, hours, patterns, shares
from domain.calendar import LEGACY_CALENDAR
from domain.contacts import Role
from domain.escalation import AuditEffect, DeadlinePolicy, EmailEffect, ResponseRefused
from domain.interface_alert import AlertCase, AlertRequest, JoinDigest, Risk, digest_id, digest_time
from domain.responses import ResponseInput
from tests.domain.builders import ROOT, config, five_pm, london

LIAISON = "gp.liaison@mtw.example"
DIRECTOR = "medical.director@mtw.example"
PRACTICE = "pm.g82001@practice.example"
POLICY = DeadlinePolicy(response_days=5, acknowledgement_days=1)


def opened(now: datetime, **changes: object) -> tuple[AlertCase, list[object]]:
    data = {**json.loads((ROOT / "examples" / "interface_alert.json").read_text()), **changes}
    settings = config()
    case, effects = AlertCase.open(
        "IFA-2026-TEST01",
        AlertRequest.model_validate(data),
        settings.lmc,
        settings.lmc.officers[0],
        settings.organisation("RWF"),
        POLICY,
        now,
    )
    return case, list(effects)


def respond(action: str, email: str = LIAISON, role: Role = Role.PAYER, **fields: object) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=role, **fields)


def test_a_routine_alert_joins_the_days_digest_and_is_due_five_working_days_after_it() -> None:
    case, effects = opened(london(2026, 11, 25, 10))  # Wednesday
    [join] = [e for e in effects if isinstance(e, JoinDigest)]
    assert join.digest_id == "IFA-DIGEST-RWF-20261125" and join.send_at == five_pm(2026, 11, 25)
    assert not any(isinstance(e, EmailEffect) for e in effects)
    assert case.status == "awaiting_digest" and case.wait is not None
    assert case.wait.deadline == five_pm(2026, 12, 2)  # 5 working days after Wednesday's digest


def test_after_five_pm_or_at_the_weekend_the_alert_waits_for_the_next_working_days_digest() -> None:
    assert digest_time(LEGACY_CALENDAR, london(2026, 11, 25, 17, 0)) == five_pm(2026, 11, 26)
    assert digest_time(LEGACY_CALENDAR, london(2026, 11, 27, 18)) == five_pm(2026, 11, 30)  # Friday evening: Monday
    assert digest_time(LEGACY_CALENDAR, london(2026, 11, 28, 11)) == five_pm(2026, 11, 30)  # Saturday
    assert digest_time(LEGACY_CALENDAR, london(2026, 12, 24, 18)) == five_pm(
        2026, 12, 29
    )  # Christmas and Boxing Day (Monday 28th)
    assert digest_id(LEGACY_CALENDAR, "rwf", london(2026, 11, 28, 11)) == "IFA-DIGEST-RWF-20261130"


def test_an_urgent_alert_goes_at_once_and_is_due_the_next_working_day() -> None:
    case, effects = opened(london(2026, 11, 27, 11), risk="urgent")  # Friday
    [email] = [e for e in effects if isinstance(e, EmailEffect)]
    assert email.to.email == LIAISON and email.actions == ["acknowledge", "dispute_alert", "request_info"]
    assert not any(isinstance(e, JoinDigest) for e in effects)
    assert case.wait is not None and case.wait.deadline == five_pm(2026, 11, 30)


def test_acknowledged_with_the_action_taken_tells_the_practice() -> None:
    case, _ = opened(london(2026, 11, 25))
    with pytest.raises(ResponseRefused, match="text: Action taken is required"):
        case.check(respond("acknowledge"))
    outcome, effects = case.apply(respond("acknowledge", text="Letters now go within 7 days"), london(2026, 11, 26))
    assert outcome.status == "acknowledged" and case.is_closed
    [told] = [e for e in effects if isinstance(e, EmailEffect)]
    assert told.to.email == PRACTICE and "Letters now go within 7 days" in told.paragraphs[0]
    assert (
        "Acknowledge, with the action taken (gp.liaison@mtw.example)",
        "Letters now go within 7 days",
    ) in case.facts()


def test_disputed_with_a_reason_tells_the_practice_and_the_officer() -> None:
    case, _ = opened(london(2026, 11, 25))
    _, effects = case.apply(respond("dispute_alert", reasons="Not our clinic"), london(2026, 11, 26))
    assert case.outcome == "disputed"
    assert {e.to_role for e in effects if isinstance(e, EmailEffect)} == {Role.PRACTICE, Role.OFFICER}


def test_asking_the_practice_pauses_the_providers_clock_until_it_answers_through_its_link() -> None:
    case, _ = opened(london(2026, 11, 25))
    _, effects = case.apply(respond("request_info", text="Which clinic?"), london(2026, 11, 30, 9))
    [ask] = [e for e in effects if isinstance(e, EmailEffect)]
    assert ask.to.email == PRACTICE and ask.actions == ["supply_info"]
    assert case.wait is not None and case.wait.deadline is None and case.wait.paused_days_left == 2
    with pytest.raises(ResponseRefused, match="is not the contact"):
        case.check(respond("supply_info", email="someone@else.example", role=Role.PRACTICE, text="x"))
    with pytest.raises(ResponseRefused, match="not open"):
        case.check(respond("acknowledge", text="done"))
    case.apply(respond("supply_info", email=PRACTICE, role=Role.PRACTICE, text="Tuesday clinic"), london(2026, 12, 7))
    assert case.status == "awaiting_answer" and case.wait.deadline == five_pm(2026, 12, 9)


def test_silence_reminds_then_climbs_the_providers_ladder() -> None:
    case, _ = opened(london(2026, 11, 25))
    first = case.on_timer(five_pm(2026, 12, 2))
    assert [e.to.email for e in first if isinstance(e, EmailEffect)] == [LIAISON]
    assert case.wait is not None and case.wait.deadline is not None
    second = case.on_timer(case.wait.deadline)
    assert [e.to.email for e in second if isinstance(e, EmailEffect)] == [DIRECTOR]
    assert case.ladder.level == 2 and any(isinstance(e, AuditEffect) and e.event == "ladder_climbed" for e in second)


def test_the_digest_carrying_the_alert_and_the_claim_made_from_it_are_recorded_once() -> None:
    case, _ = opened(london(2026, 11, 25))
    assert case.digest_sent("<d@x>", LIAISON, five_pm(2026, 11, 25))
    assert case.status == "awaiting_answer" and not case.digest_sent("<d@x>", LIAISON, five_pm(2026, 11, 25))
    assert case.claimed("UWC-2026-ABCDEF", "ceo@lmc.example") and not case.claimed("UWC-2026-ABCDEF", "x")
    assert ("Claimed in", "UWC-2026-ABCDEF") in case.facts()


def test_a_document_reference_carrying_an_nhs_number_is_refused() -> None:
    with pytest.raises(ValueError, match="NHS number"):
        opened(london(2026, 11, 25), document_ref="943 476 5919")


def figures(
    n: int, provider: str = "RWF", category: str = "clinic_letter", day: date = date(2026, 11, 2)
) -> list[AlertFigures]:
    return [AlertFigures(f"IFA-2026-A{i:05d}", "G82001", provider, category, day, 2, 15) for i in range(n)]


def test_ten_alerts_of_one_category_from_one_provider_in_a_month_are_a_pattern() -> None:
    found = patterns([*figures(10), *figures(9, category="fit_note"), *figures(3, day=date(2026, 12, 1))], 10)
    assert [(p.category, p.month, p.count, p.items, p.flagged) for p in found] == [
        ("clinic_letter", "2026-11", 10, 20, True),
        ("clinic_letter", "2026-12", 3, 6, False),
        ("fit_note", "2026-11", 9, 18, False),
    ]
    assert found[0].staff_minutes == 150 and hours(150) == "2 hours 30 minutes" and hours(45) == "45 minutes"


@given(st.lists(st.tuples(st.sampled_from(["RWF", "RYJ", "RN7"]), st.integers(1, 50)), min_size=1, max_size=40))
def test_shares_of_items_add_up_to_exactly_one_hundred(entries: list[tuple[str, int]]) -> None:
    alerts = [
        AlertFigures(f"IFA-2026-B{i:05d}", "G82001", provider, "clinic_letter", date(2026, 11, 2), items, 10)
        for i, (provider, items) in enumerate(entries)
    ]
    rows = shares(alerts, "provider")
    assert sum(r.percent for r in rows) == 100
    assert sum(r.items for r in rows) == sum(items for _, items in entries)
    assert [r.items for r in rows] == sorted((r.items for r in rows), reverse=True)


def test_risk_is_routine_unless_said() -> None:
    assert (
        AlertRequest.model_validate(
            {**json.loads((ROOT / "examples" / "interface_alert.json").read_text()), "risk": "routine"}
        ).risk
        is Risk.ROUTINE
    )


def test_a_held_digest_is_audited_as_held_and_the_clock_still_runs() -> None:
    case, _ = opened(london(2026, 11, 25))
    [audit] = case.digest_sent("<d@x>", LIAISON, five_pm(2026, 11, 25), held=True)
    assert isinstance(audit, AuditEffect) and audit.event == "email_held"
    assert case.wait is not None and case.wait.deadline == five_pm(2026, 12, 2)


def test_a_provider_reminded_then_answered_is_reminded_again_before_the_ladder_climbs() -> None:
    """Under LADDER_AND_TIES a question is a response: the provider's clock resumes with no misses."""
    case, _ = opened(london(2026, 11, 25))
    case.on_timer(five_pm(2026, 12, 2))  # reminded once
    assert case.wait is not None and case.wait.misses == 1
    case.apply(respond("request_info", text="Which clinic?"), london(2026, 12, 3, 9))
    case.apply(respond("supply_info", email=PRACTICE, role=Role.PRACTICE, text="Tuesday clinic"), london(2026, 12, 4))
    assert case.wait is not None and case.wait.misses == 0 and case.wait.deadline is not None
    again = case.on_timer(case.wait.deadline)
    assert [e.to.email for e in again if isinstance(e, EmailEffect)] == [LIAISON] and case.ladder.level == 1
