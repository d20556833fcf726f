"""After a payer refuses (the ICB refusing a year-end mechanism, or to pay a pot), the officer always
has a next step: dispute (which climbs the ladder), reply with information, accept the refusal, or
close with reasons. A request recorded before this (`refusal_answered` absent) closes on refusal as
it did."""

from __future__ import annotations

import pytest

from domain.confirmation import ConfirmationCase
from domain.contacts import Role
from domain.escalation import ResponseRefused
from tests.domain.builders import (
    NWL,
    OFFICER,
    audits,
    child_request,
    config,
    emails,
    london,
    officer,
    open_confirmation,
    open_pathology,
    payer,
    wait_of,
)

OPENED = london(2026, 12, 1)
REFUSED_AT = london(2027, 1, 12)


def refused() -> ConfirmationCase:
    _, effects = open_pathology(OPENED)
    case, _ = open_confirmation(child_request(effects, "year_end"), config().policy("pathology_error"), OPENED)
    assert case.request.refusal_answered
    case.apply(payer("refuse", email=NWL[0], reasons="Year-end reconciliation is fixed nationally"), REFUSED_AT)
    return case


def test_a_refusal_waits_for_the_officer_and_tells_them_their_next_steps() -> None:
    _, effects = open_pathology(OPENED)
    case, _ = open_confirmation(child_request(effects, "year_end"), config().policy("pathology_error"), OPENED)
    result, effects = case.apply(payer("refuse", email=NWL[0], reasons="Fixed nationally"), REFUSED_AT)
    assert (case.status, case.outcome, result.status) == ("refused", None, "refused")
    assert wait_of(case) is not None and wait_of(case)[:2] == ("officer_reply", Role.OFFICER)  # type: ignore[index]
    assert case.actions_for(Role.OFFICER) == [
        "dispute",
        "supply_info",
        "accept_refusal",
        "withdraw",
        "declare_interest",
    ]
    [notice] = emails(effects)
    assert notice.to.email == OFFICER and notice.actions[:3] == ["dispute", "supply_info", "accept_refusal"]
    assert "Dispute the refusal" in notice.paragraphs[1] and "Accept the refusal" in notice.paragraphs[1]


def test_disputing_climbs_the_ladder_and_asks_the_senior_contact_again() -> None:
    case = refused()
    result, effects = case.apply(officer("dispute", reasons="Other ICBs have done so"), london(2027, 1, 13))
    assert (case.status, case.ladder.level, result.status) == ("awaiting", 2, "awaiting")
    [email] = emails(effects)
    assert email.to.email == NWL[1] and email.to_role is Role.PAYER and "confirm" in email.actions
    assert "refused: Year-end reconciliation is fixed nationally" in email.paragraphs[0]
    assert "The LMC disputes the refusal: Other ICBs have done so" in email.paragraphs[1]
    assert wait_of(case) is not None and wait_of(case)[:2] == ("year_end", Role.PAYER)  # type: ignore[index]


def test_replying_with_information_asks_the_same_contact_again() -> None:
    case = refused()
    _, effects = case.apply(officer("supply_info", text="NHS England's guidance allows it"), london(2027, 1, 13))
    [email] = emails(effects)
    assert (case.status, case.ladder.level, email.to.email) == ("awaiting", 1, NWL[0])
    assert "The LMC replies: NHS England's guidance allows it" in email.paragraphs[1]


@pytest.mark.parametrize(("action", "outcome"), [("accept_refusal", "refused"), ("withdraw", "withdrawn")])
def test_accepting_the_refusal_or_closing_ends_the_request(action: str, outcome: str) -> None:
    case = refused()
    _, effects = case.apply(officer(action, reasons="Raised at the liaison meeting instead"), london(2027, 1, 13))
    assert (case.status, case.outcome) == ("closed", outcome)
    assert audits(effects)[-1] == "closed"


def test_a_dispute_needs_reasons_and_a_reply_its_text() -> None:
    case = refused()
    with pytest.raises(ResponseRefused, match="reasons: is required"):
        case.check(officer("dispute"))
    with pytest.raises(ResponseRefused, match="text: is required"):
        case.check(officer("supply_info"))


def test_a_request_recorded_before_closes_on_refusal_as_it_did() -> None:
    _, effects = open_pathology(OPENED)
    start = child_request(effects, "year_end")
    assert start.confirmation is not None
    start.confirmation.refusal_answered = False
    case, _ = open_confirmation(start, config().policy("pathology_error"), OPENED)
    case.apply(payer("refuse", email=NWL[0], reasons="No"), REFUSED_AT)
    assert (case.status, case.outcome) == ("closed", "refused")
    assert case.actions_for(Role.OFFICER) == []
