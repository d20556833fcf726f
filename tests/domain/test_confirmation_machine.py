"""A payer asked to confirm one thing (ConfirmationCase), without Temporal: the four requests the
incident kinds really make (year-end recognition and the incident report for pathology; the ICB's
message and the pot for deregistration), each chased by the shared ladder until it is confirmed,
refused (where refusing is allowed) or closed by the officer.

    awaiting ──confirm (payer)──▶ closed (confirmed)
        ├─────refuse (payer, where allowed)──▶ closed (refused)
        └─────withdraw (officer)─────────────▶ closed (withdrawn)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from domain.confirmation import ConfirmationCase, ConfirmationRequest
from domain.contacts import Role
from domain.escalation import Effect, ResponseRefused
from domain.practice_return import ReturnRecord
from domain.responses import DeregisteredGroup, ResponseInput
from tests.domain.builders import (
    IMPERIAL,
    NWL,
    OFFICER,
    as_role,
    audits,
    child_request,
    config,
    emails,
    five_pm,
    london,
    mail,
    officer,
    open_confirmation,
    open_deregistration,
    open_pathology,
    payer,
    state,
    wait_of,
)

OPENED = london(2026, 12, 22, 10)  # Tuesday before Christmas
ACT = london(2026, 12, 23, 11)


def opened(topic: str) -> tuple[ConfirmationCase, list[Effect]]:
    """The request as its incident asks for it (the pot once returns are in), opened on 22 December 2026."""
    if topic in ("year_end", "incident_report"):
        _, effects = open_pathology(OPENED)
        return open_confirmation(child_request(effects, topic), config().policy("pathology_error"), OPENED)
    incident, effects = open_deregistration(OPENED)
    if topic == "pot":
        group = DeregisteredGroup(patients=10, days_off=30)
        effects = incident.on_returns_loaded([ReturnRecord(ods="E85012", groups=[group])], OPENED)
    return open_confirmation(child_request(effects, topic), config().policy("deregistration"), OPENED)


def request_for(topic: str) -> ConfirmationCase:
    return opened(topic)[0]


# topic: (child id, payer's contacts, deadline, refusable, what confirming needs)
REQUESTS: dict[str, tuple[str, tuple[str, str, str], datetime, bool, dict[str, Any]]] = {
    "year_end": (
        "PEC-2026-TEST01-YEAR-END", NWL, five_pm(2027, 3, 31), True,  # the reconciliation date, in BST
        {"text": "A 2% uplift on the uACR indicator for 2024/25"},
    ),
    "incident_report": (
        "PEC-2026-TEST01-INCIDENT-REPORT", IMPERIAL, five_pm(2027, 1, 22), False,  # 20 working days over Christmas
        {"text": "https://imperial.example/reports/uacr-2025"},
    ),
    "icb_message": (
        "PDR-2026-TEST01-ICB-MESSAGE", NWL, five_pm(2027, 1, 8), False,  # 10 working days over Christmas
        {"text": "Sent 5 January 2027, ref NWL-PC-0142"},
    ),
    "pot": (
        "PDR-2026-TEST01-POT", NWL, five_pm(2027, 1, 22), True,  # 20 working days; the ICB may refuse to pay
        {"amount_pence": 250_000, "on_date": date(2027, 2, 26)},
    ),
}  # fmt: skip


@pytest.mark.parametrize("topic", REQUESTS)
def test_opening_asks_the_payers_named_contact_by_the_deadline(topic: str) -> None:
    child_id, contacts, deadline, refusable, _ = REQUESTS[topic]
    case, effects = opened(topic)
    assert (case.escalation_id, case.kind, case.status, case.outcome) == (child_id, "confirmation", "awaiting", None)
    assert wait_of(case) == (topic, Role.PAYER, deadline) and case.next_timer() == deadline
    assert audits(effects) == ["requested"]
    assert effects[0].model_dump()["detail"] == {"topic": topic, "payer": case.payer.code}
    assert mail(effects) == [(topic, contacts[0], [OFFICER])]
    [email] = emails(effects)
    assert email.subject == f"[{child_id}] {case.title}, reply by {deadline:%A} {deadline.day} {deadline:%B %Y}"
    assert email.actions == (["confirm", "refuse"] if refusable else ["confirm"])
    assert email.paragraphs[-1] == f"Please respond by {deadline:%A} {deadline.day} {deadline:%B %Y}, 5pm."


def test_a_deadline_by_date_is_five_pm_london_on_that_date() -> None:
    case = request_for("year_end")
    assert case.wait is not None and case.wait.deadline is not None
    assert case.wait.deadline.astimezone(UTC) == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)  # BST


@pytest.mark.parametrize("topic", REQUESTS)
def test_what_each_side_may_do(topic: str) -> None:
    case = request_for(topic)
    refusable = REQUESTS[topic][3]
    assert case.actions_for(Role.PAYER) == (["confirm", "refuse"] if refusable else ["confirm"])
    assert case.actions_for(Role.OFFICER) == ["withdraw", "declare_interest"]
    assert case.actions_for(Role.PRACTICE) == case.actions_for(Role.OBSERVER) == []


@pytest.mark.parametrize("topic", REQUESTS)
def test_confirming_closes_the_request_and_tells_the_officer(topic: str) -> None:
    _, contacts, _, _, fields = REQUESTS[topic]
    case = request_for(topic)
    result, effects = case.apply(payer("confirm", email=contacts[2], **fields), ACT)  # any contact on the ladder
    assert (case.status, case.outcome, case.wait, result.status) == ("closed", "confirmed", None, "confirmed")
    assert (case.reference, case.amount_pence, case.on_date) == (
        fields.get("text"),
        fields.get("amount_pence"),
        fields.get("on_date"),
    )
    assert audits(effects) == ["response:confirm", "closed"]
    assert effects[-1].model_dump()["detail"] == {"outcome": "confirmed"}
    assert mail(effects) == [(f"{topic}-confirmed", OFFICER, [])]
    assert emails(effects)[0].actions == []


def test_a_confirmed_pot_shows_its_amount_and_date() -> None:
    case = request_for("pot")
    _, effects = case.apply(payer("confirm", email=NWL[0], amount_pence=250_000, on_date=date(2027, 2, 26)), ACT)
    assert ("Amount", "£2,500.00") in case.facts() and ("Date", "26 February 2027") in case.facts()
    assert emails(effects)[0].paragraphs == [f"{NWL[0]} confirmed: the details are below."]  # not listed twice


def test_a_pot_confirmed_below_the_loss_is_told_to_the_officer_with_the_gap() -> None:
    case = request_for("pot")
    case.request = case.request.model_copy(update={"expected_pence": 55_664})
    _, effects = case.apply(payer("confirm", email=NWL[0], amount_pence=40_000, on_date=date(2027, 2, 26)), ACT)
    [_, short] = emails(effects)[0].paragraphs
    assert short.startswith("That is £156.64 less than the £556.64 asked for: each practice is paid 71.8% of its loss")


def test_year_end_recognition_may_be_refused_with_reasons() -> None:
    case = request_for("year_end")
    result, effects = case.apply(payer("refuse", email=NWL[1], reasons="Reconciliation is national"), ACT)
    # It waits for the officer's next step (tests/domain/test_refusal_next_steps.py) rather than closing.
    assert (case.status, case.reasons, result.status) == ("refused", "Reconciliation is national", "refused")
    assert audits(effects) == ["response:refuse"]
    assert mail(effects) == [("year_end-refused", OFFICER, [])]
    case.apply(officer("accept_refusal"), ACT)
    assert case.outcome == "refused"


@pytest.mark.parametrize("topic", REQUESTS)
def test_the_officer_may_close_a_request_and_the_payer_is_told(topic: str) -> None:
    contacts = REQUESTS[topic][1]
    case = request_for(topic)
    result, effects = case.apply(officer("withdraw", reasons="Raised at the liaison meeting instead"), ACT)
    assert (case.outcome, case.reasons, result.status) == (
        "withdrawn",
        "Raised at the liaison meeting instead",
        "withdrawn",
    )
    assert audits(effects) == ["response:withdraw", "closed"]
    assert mail(effects) == [(f"{topic}-withdrawn", contacts[0], [OFFICER])]
    assert emails(effects)[0].actions == []  # the link offers nothing any more


@pytest.mark.parametrize(
    ("topic", "response", "error"),
    [
        ("year_end", payer("confirm", email=NWL[0]), "text: is required"),
        (
            "incident_report",
            payer("confirm", email=IMPERIAL[0], text="  "),
            "text: is required",
        ),
        ("icb_message", payer("confirm", email=NWL[0]), "text: is required"),
        ("pot", payer("confirm", email=NWL[0], on_date=date(2027, 2, 26)), "amount: is required"),
        ("pot", payer("confirm", email=NWL[0], amount_pence=250_000), "on_date: is required"),
        ("year_end", payer("refuse", email=NWL[0]), "reasons: is required"),
        ("icb_message", officer("withdraw"), "reasons: is required"),
        ("incident_report", payer("refuse", email=IMPERIAL[0], reasons="No"), "'Refuse, with reasons' is not open"),
        ("pot", payer("refuse", email=NWL[0]), "reasons: is required"),
        (
            "pot",
            payer("confirm", email=NWL[0], amount_pence=0, on_date=date(2027, 2, 26)),
            r"amount: must be more than £0.00; if no money will be paid, use "
            "'Refuse to pay, with reasons'",
        ),
        (
            "pot",
            payer("confirm", email=NWL[0], amount_pence=250_000, on_date=date(2027, 5, 31)),
            "on_date: the payment date must be a working day, not in the past; 31 May 2027 is a bank holiday; "
            "the next working day is Tuesday 1 June 2027",
        ),
        (
            "pot",
            payer("confirm", email=NWL[0], amount_pence=250_000, on_date=date(2026, 12, 18)),
            "on_date: .*18 December 2026 is in the past; the earliest working day is Wednesday 23 December 2026",
        ),
        (
            "icb_message",
            officer("confirm", text="x"),
            "'Confirm, with the details asked for' is not open.*open now: 'Close this request, with reasons'",
        ),
        ("year_end", payer("withdraw", email=NWL[0], reasons="x"), "'Close this request, with reasons' is not open"),
        ("year_end", payer("confirm", email=IMPERIAL[0], text="x"), "not a contact of NHS North West London ICB"),
        ("incident_report", payer("confirm", email=NWL[0], text="x"), "not a contact of Imperial College"),
        ("pot", officer("withdraw", email="chair@lmc.example", reasons="x"), "not an officer"),
        ("icb_message", as_role(Role.PRACTICE, "confirm", "pm.e85011@nhs.example"), "nothing is open to you now"),
        ("icb_message", as_role(Role.OBSERVER, "confirm", NWL[0]), "nothing is open to you now"),
    ],
)
def test_refusals_change_nothing(topic: str, response: ResponseInput, error: str) -> None:
    case = request_for(topic)
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.apply(response, ACT)
    assert state(case) == before


def test_an_unanswered_request_climbs_the_ladder_then_stalls_and_never_closes_itself() -> None:
    case = request_for("icb_message")
    steps = []
    while (due := case.next_timer()) is not None:
        effects = case.on_timer(due)
        steps.append((due, mail(effects)[0][:2], case.ladder.level))
    assert steps == [
        (five_pm(2027, 1, 8), ("reminder-icb_message-L1", NWL[0]), 1),
        (five_pm(2027, 1, 15), ("escalated-icb_message-L2", NWL[1]), 2),
        (five_pm(2027, 1, 22), ("reminder-icb_message-L2", NWL[1]), 2),
        (five_pm(2027, 1, 29), ("escalated-icb_message-L3", NWL[2]), 3),
        (five_pm(2027, 2, 5), ("reminder-icb_message-L3", NWL[2]), 3),
        (five_pm(2027, 2, 12), ("stalled-icb_message", OFFICER), 3),
    ]
    assert (case.ladder.stalled, case.ladder.on_liaison_agenda, case.status, case.outcome) == (
        True,
        True,
        "awaiting",
        None,
    )
    case.apply(payer("confirm", email=NWL[0], text="Sent at last"), london(2027, 3, 1))  # the first contact, still
    assert case.outcome == "confirmed"


def test_closing_with_the_incident_closes_the_request() -> None:
    case = request_for("pot")
    effects = case.close_by_parent("The incident was closed")
    assert (case.outcome, audits(effects), case.next_timer()) == ("closed_by_officer", ["closed"], None)


@pytest.mark.parametrize("deadline", [{}, {"deadline_days": 10, "deadline_date": date(2027, 3, 31)}])
def test_a_request_names_exactly_one_deadline(deadline: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="give deadline_days or deadline_date"):
        ConfirmationRequest(topic="pot", title="Pot", ask=["?"], **deadline)


def test_a_reference_too_short_to_look_up_is_refused_as_it_arrives() -> None:
    """An incident report 'confirmed' with the reference 'x'. Refused in the validator alone (`check_as_sent`)."""
    from domain.escalation import ResponseRefused

    _, contacts, _, _, fields = REQUESTS["incident_report"]
    case = request_for("incident_report")
    with pytest.raises(ResponseRefused, match="too short to tell anyone anything"):
        case.check_as_sent(payer("confirm", email=contacts[0], **{**fields, "text": "x"}))
    case.check_as_sent(payer("confirm", email=contacts[0], **fields))
