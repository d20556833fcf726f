"""One practice's part in an incident (PracticeCase), without Temporal: its return, the reminders
before the deadline, a late return flagged rather than lost, its share and its receipt.

    awaiting_return ──submit_return──▶ returned ──(correct until returns close)
          │                                │
          └──────────close_returns─────────┴──▶ returns_closed ──submit_return: recorded, flagged late
                                                       │
                          notify_share (£0) ──▶ closed (nothing_due)
                          notify_share (>£0) ─▶ share_notified ──confirm_receipt──▶ closed (paid)
    close_by_parent: from any open state ──▶ closed (closed_by_officer)
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.contacts import Role
from domain.escalation import ResponseRefused
from domain.practice_return import AcknowledgeReturnsClosed, PracticeCase, ReturnEffect, ReturnRecord, ShareNotice
from domain.responses import DeregisteredGroup, ResponseInput
from tests.domain.builders import (
    IMPERIAL,
    KENT,
    OFFICER,
    as_role,
    audits,
    emails,
    five_pm,
    london,
    mail,
    of_type,
    officer,
    payer,
    practice,
    practice_case,
    state,
    wait_of,
)

PM = "pm.e87700@nhs.example"
DEADLINE = five_pm(2027, 1, 5)  # returns close 17:00 Tuesday 5 January 2027
COUNTS = {"patients_reviewed": 12, "recall_appointments": 4}
SHARE = ShareNotice(amount_pence=24_400, due=date(2027, 2, 26), explanation="Your share of the £12,345.00 agreed.")
BEFORE = london(2026, 12, 21, 10)  # the return goes in before the close
AFTER = london(2027, 1, 6, 10)  # and after it


def reach(status: str, returned: bool = True) -> PracticeCase:
    case = practice_case(returns_deadline=DEADLINE)
    if returned:
        case.apply(practice("submit_return", counts=COUNTS), BEFORE)
    if status in ("returns_closed", "share_notified", "closed"):
        case.close_returns()
    if status in ("share_notified", "closed"):
        case.notify_share(SHARE, AFTER)
    if status == "closed":
        case.apply(practice("confirm_receipt"), london(2027, 2, 26, 11))
    assert case.status == status
    return case


# --- what is open where ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "returned", "practice_may"),
    [
        ("awaiting_return", False, ["submit_return"]),
        ("returned", True, ["submit_return"]),
        ("returns_closed", False, ["submit_return"]),  # a late return is still taken, and flagged
        ("returns_closed", True, ["submit_return"]),
        ("share_notified", True, ["confirm_receipt"]),
        ("closed", True, []),
    ],
)
def test_each_state_offers_the_practice_its_actions_and_nobody_else_anything(
    status: str, returned: bool, practice_may: list[str]
) -> None:
    case = reach(status, returned)
    assert case.actions_for(Role.PRACTICE) == practice_may
    assert case.actions_for(Role.PAYER) == []
    assert case.actions_for(Role.OFFICER) == ([] if status == "closed" else ["declare_interest"])


@pytest.mark.parametrize(
    ("status", "response", "error"),
    [
        ("awaiting_return", practice("confirm_receipt"), "'Confirm the payment was received' is not open at this stage \\(waiting for the practice's return\\)"),
        ("returned", practice("confirm_receipt"), "not open at this stage \\(return received\\); open now: 'Send \\(or correct\\) your return'"),
        ("share_notified", practice("submit_return", counts=COUNTS), "'Send \\(or correct\\) your return' is not open"),
        ("awaiting_return", practice("submit_return", email="pm.e87701@nhs.example", counts=COUNTS),
         "pm.e87701@nhs.example is not the contact for E87700"),
        ("share_notified", practice("confirm_receipt", email="pm.e87701@nhs.example"), "not the contact for E87700"),
        ("awaiting_return", payer("submit_return", email=IMPERIAL[0], counts=COUNTS), "nothing is open to you now"),
        ("awaiting_return", payer("submit_return", email=KENT[0], counts=COUNTS),
         "not a contact of Imperial College Healthcare NHS Trust"),
        ("awaiting_return", officer("submit_return", counts=COUNTS), "open now: 'Declare an interest in a party'"),
        ("awaiting_return", as_role(Role.OBSERVER, "submit_return", PM, counts=COUNTS), "nothing is open to you now"),
        ("awaiting_return", practice("submit_return", counts={"patients_reviewed": 3}),
         "counts.recall_appointments: give a count \\(0 if none\\)"),
        ("returned", practice("submit_return", counts={**COUNTS, "repeat_tests": 2}),
         "counts.repeat_tests: not an item of this incident's tariff"),
        ("awaiting_return", practice("submit_return"), "counts.patients_reviewed: give a count"),
        ("closed", practice("submit_return", counts=COUNTS), "closed \\(paid in full\\)"),
    ],
)  # fmt: skip
def test_refusals_change_nothing(status: str, response: ResponseInput, error: str) -> None:
    case = reach(status, returned=status != "awaiting_return")
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.apply(response, BEFORE)
    assert state(case) == before


@pytest.mark.parametrize(
    "groups",
    [None, []],
    ids=["no-groups", "empty"],
)
def test_a_deregistration_return_needs_a_group(groups: list[DeregisteredGroup] | None) -> None:
    case = practice_case("groups", DEADLINE, ods="E85011")
    with pytest.raises(ResponseRefused, match="groups: give at least one group of patients"):
        case.check(practice("submit_return", email="pm.e85011@nhs.example", groups=groups, counts=COUNTS))


# --- the return -------------------------------------------------------------------------
def test_opening_asks_the_practice_for_its_return() -> None:
    case = practice_case(returns_deadline=DEADLINE)
    effects = case.opening()
    assert audits(effects) == ["return_requested"] and effects[0].model_dump()["detail"] == {"ods": "E87700"}
    assert mail(effects) == [("return-requested", PM, [])]
    [email] = emails(effects)
    assert email.to_role is Role.PRACTICE and email.actions == ["submit_return"]
    assert "by Tuesday 5 January 2027, 5pm" in email.paragraphs[1]
    assert case.wait is None  # the reminders are the practice's timer, not a wait


def test_a_return_is_recorded_and_stored_for_the_incident() -> None:
    case = reach("awaiting_return", returned=False)
    result, effects = case.apply(practice("submit_return", counts=COUNTS), BEFORE)
    assert (case.status, result.status, case.counts, case.late, case.corrections) == (
        "returned", "returned", COUNTS, False, 0,
    )  # fmt: skip
    assert result.message == "Return recorded. You can correct it until returns close."
    assert audits(effects) == ["response:submit_return"] and mail(effects) == []
    assert effects[0].model_dump()["detail"] == {"ods": "E87700", "late": False, "correction": False, "counts": COUNTS}
    assert of_type(effects, ReturnEffect) == [
        ReturnEffect(parent_id="PEC-2026-TEST01", record=ReturnRecord(ods="E87700", counts=COUNTS))
    ]
    assert case.next_timer() is None  # no reminders once returned


def test_a_correction_replaces_the_return_until_returns_close() -> None:
    case = reach("returned")
    corrected = {"patients_reviewed": 20, "recall_appointments": 0}
    result, effects = case.apply(practice("submit_return", counts=corrected), BEFORE)
    assert (case.status, case.counts, case.corrections, case.late) == ("returned", corrected, 1, False)
    assert result.message.startswith("Correction recorded")
    assert effects[0].model_dump()["detail"]["correction"] is True
    assert of_type(effects, ReturnEffect)[0].record == ReturnRecord(ods="E87700", counts=corrected, corrections=1)


def test_the_return_already_recorded_sent_again_is_refused_as_it_arrives() -> None:
    """The same numbers again (a second tab, a resent page) are not a correction: refused as they arrive, naming
    why, where they had been recorded as one with nothing changed. A changed number is a correction, as ever."""
    case = reach("returned")
    with pytest.raises(ResponseRefused, match="already recorded, to the number"):
        case.check_as_sent(practice("submit_return", counts=dict(reversed(COUNTS.items()))))  # order is no change
    case.check_as_sent(practice("submit_return", counts={**COUNTS, "recall_appointments": 5}))


def test_a_return_after_the_close_is_recorded_flagged_late_and_the_officer_told() -> None:
    case = reach("returns_closed", returned=False)
    result, effects = case.apply(practice("submit_return", counts=COUNTS), AFTER)
    assert (case.status, case.late, case.counts) == ("returns_closed", True, COUNTS)
    assert "flagged late" in result.message
    assert mail(effects) == [("late-return", OFFICER, [])]
    assert of_type(effects, ReturnEffect)[0].record.late is True
    assert dict(case.facts())["Status"] == "return received late, after returns closed"  # not "returns closed (late)"


def test_a_correction_after_the_close_is_flagged_late_too() -> None:
    # Note: the stored record is replaced by the late one, so the incident no longer claims the on-time return.
    case = reach("returns_closed")
    case.apply(practice("submit_return", counts={"patients_reviewed": 1, "recall_appointments": 1}), AFTER)
    assert (case.late, case.corrections) == (True, 1)


def test_a_deregistration_return_carries_groups() -> None:
    case = practice_case("groups", DEADLINE, ods="E85011")
    groups = [
        DeregisteredGroup(patients=12, days_off=30),
        DeregisteredGroup(patients=3, still_off=True, off_since=date(2025, 2, 1)),
    ]
    _, effects = case.apply(practice("submit_return", email="pm.e85011@nhs.example", groups=groups), BEFORE)
    assert (case.status, case.groups, case.counts) == ("returned", groups, None)
    assert of_type(effects, ReturnEffect)[0].record.groups == groups
    assert ("Your return", "12 patients, 30 days off; 3 patients, still off since 1 February 2025") in case.facts()


# --- the incident tells the practice ------------------------------------------------------
@pytest.mark.parametrize("returned", [False, True])
def test_closing_returns_closes_and_acknowledges(returned: bool) -> None:
    case = reach("awaiting_return" if not returned else "returned", returned)
    effects = case.close_returns()
    assert case.status == "returns_closed"
    assert audits(effects) == ["returns_closed"] and effects[0].model_dump()["detail"]["returned"] is returned
    assert of_type(effects, AcknowledgeReturnsClosed) == [AcknowledgeReturnsClosed(ods="E87700")]


@pytest.mark.parametrize("status", ["returns_closed", "share_notified", "closed"])
def test_closing_returns_again_only_acknowledges(status: str) -> None:
    case = reach(status)
    before = state(case)
    assert case.close_returns() == [AcknowledgeReturnsClosed(ods="E87700")]
    assert state(case) == before


def test_a_share_is_told_to_the_practice_and_its_payment_awaited() -> None:
    case = reach("returns_closed")
    effects = case.notify_share(SHARE, AFTER)
    assert (case.status, case.share_pence, case.payment_due) == ("share_notified", 24_400, five_pm(2027, 2, 26))
    assert wait_of(case) == ("payment", Role.PRACTICE, five_pm(2027, 2, 26))
    assert audits(effects) == ["share_notified"]
    assert effects[0].model_dump()["detail"] == {"ods": "E87700", "amount_pence": 24_400}
    assert mail(effects) == [("share-notified", PM, [])]
    [email] = emails(effects)
    assert email.headline == "Your share: £244.00" and email.actions == ["confirm_receipt"]
    assert email.paragraphs[0] == SHARE.explanation


def test_nothing_due_closes_the_practice() -> None:
    case = reach("returns_closed", returned=False)
    effects = case.notify_share(ShareNotice(amount_pence=0, due=date(2027, 2, 26), explanation="-"), AFTER)
    assert (case.outcome, case.status, case.wait, audits(effects), mail(effects)) == (
        "nothing_due", "closed", None, ["closed"], [],
    )  # fmt: skip


def test_a_closed_practice_is_told_nothing_more() -> None:
    case = reach("closed")
    before = state(case)
    assert case.notify_share(SHARE, AFTER) == [] and case.extend(five_pm(2027, 3, 1)) == []
    assert state(case) == before


def test_confirming_receipt_closes_the_practice_paid() -> None:
    case = reach("share_notified")
    result, effects = case.apply(practice("confirm_receipt", amount_pence=24_400), london(2027, 2, 26, 11))
    assert (case.outcome, case.wait, result.status) == ("paid", None, "paid")
    assert audits(effects) == ["response:confirm_receipt", "closed"] and mail(effects) == []
    assert effects[0].model_dump()["detail"] == {"ods": "E87700", "amount_pence": 24_400}


def test_an_underpaid_share_keeps_the_practice_open() -> None:
    case = reach("share_notified")
    case.apply(practice("confirm_receipt", amount_pence=20_000), london(2027, 2, 26, 11))
    assert not case.is_closed


# --- deadlines: reminders before the close, then the payment --------------------------------
REMINDERS = [
    (london(2026, 12, 24, 9), 5, "Reminder: your workload return is due in 5 working days"),  # before Christmas
    (london(2026, 12, 31, 9), 2, "Reminder: your workload return is due in 2 working days"),  # 1 Jan is a holiday
    (london(2027, 1, 5, 9), 0, "Reminder: your workload return is due today"),
]


def test_reminders_go_five_and_two_working_days_before_and_on_the_day() -> None:
    case = practice_case(returns_deadline=DEADLINE)
    for when, days, headline in REMINDERS:
        assert case.next_timer() == when
        assert case.on_timer(when.replace(hour=8, minute=59)) == []
        effects = case.on_timer(when)
        assert audits(effects) == ["return_reminder"]
        assert effects[0].model_dump()["detail"] == {"ods": "E87700", "days_before": days}
        assert mail(effects) == [(f"return-reminder-{days}", PM, [])]
        assert emails(effects)[0].headline == headline and emails(effects)[0].actions == ["submit_return"]
    assert case.reminders_sent == [5, 2, 0] and case.next_timer() is None


def test_a_late_timer_sends_one_reminder_for_every_one_it_missed() -> None:
    case = practice_case(returns_deadline=DEADLINE)
    effects = case.on_timer(london(2027, 1, 4, 12))
    assert mail(effects) == [("return-reminder-2", PM, [])] and case.reminders_sent == [5, 2]
    assert case.next_timer() == london(2027, 1, 5, 9)


def test_reminders_follow_the_deadline_in_bst_and_over_the_summer_bank_holiday() -> None:
    case = practice_case(returns_deadline=five_pm(2026, 9, 3))  # Thursday 3 September 2026
    # 5 working days before: 2, 1 Sep, [31 Aug bank holiday], 28, 27, 26 Aug
    assert case.next_timer() == london(2026, 8, 26, 9)
    case.on_timer(london(2026, 8, 26, 9))
    assert case.next_timer() == london(2026, 9, 1, 9)


@pytest.mark.parametrize("returned", [False, True])
def test_extending_moves_the_deadline_and_restarts_the_reminders(returned: bool) -> None:
    case = reach("returned" if returned else "awaiting_return", returned)
    case.on_timer(london(2026, 12, 24, 9))
    new = five_pm(2027, 1, 19)
    effects = case.extend(new)
    assert (case.returns_deadline, case.reminders_sent) == (new, [])
    assert audits(effects) == ["return_deadline_extended"]
    assert effects[0].model_dump()["detail"] == {"ods": "E87700", "deadline": new.isoformat()}
    # Only a practice still to return is told; one that returned may correct until the new close.
    assert mail(effects) == ([] if returned else [("return-extended", PM, [])])
    assert case.next_timer() == (None if returned else london(2027, 1, 12, 9))


def test_extending_after_the_close_changes_nothing() -> None:
    case = reach("returns_closed")
    before = state(case)
    assert case.extend(five_pm(2027, 1, 19)) == []
    assert state(case) == before


def test_an_overdue_payment_asks_the_practice_then_tells_the_officer() -> None:
    case = reach("share_notified")
    assert case.next_timer() == five_pm(2027, 2, 26)
    assert case.on_timer(five_pm(2027, 2, 26).replace(hour=16)) == []
    first = case.on_timer(five_pm(2027, 2, 26))
    assert audits(first) == ["payment_overdue"]
    assert first[0].model_dump()["detail"] == {"ods": "E87700", "misses": 1}
    assert mail(first) == [("payment-check", PM, []), ("payment-overdue-1", OFFICER, [])]
    assert emails(first)[0].actions == ["confirm_receipt"]
    assert case.next_timer() == five_pm(2027, 3, 5)  # 5 working days' grace
    second = case.on_timer(five_pm(2027, 3, 5))
    assert mail(second) == [("payment-overdue-2", OFFICER, [])]
    assert case.wait is not None and case.wait.overdue and case.next_timer() is None
    assert case.outcome is None  # still open: the practice may confirm whenever it arrives
    case.apply(practice("confirm_receipt"), london(2027, 3, 10))
    assert case.outcome == "paid"


@pytest.mark.parametrize("status", ["returned", "returns_closed"])
def test_no_timer_between_returning_and_the_share(status: str) -> None:
    case = reach(status)
    assert case.next_timer() is None
    assert case.on_timer(london(2027, 6, 1)) == []


def test_facts_show_the_practice_its_share_and_when_it_is_due() -> None:
    facts = dict(reach("share_notified").facts())
    assert facts["Practice"] == "Paddington Medical Centre (E87700)"
    assert facts["Return due by"] == "Tuesday 5 January 2027, 5pm"
    assert facts["Your share"] == "£244.00" and facts["Payment due by"] == "Friday 26 February 2027, 5pm"
    assert dict(reach("returns_closed", returned=False).facts())["Status"] == "returns closed"


def test_the_practice_reads_your_share_and_anyone_else_reads_whose() -> None:
    case = reach("share_notified")
    to_practice, to_officer = dict(case.shown_facts(Role.PRACTICE)), dict(case.shown_facts(Role.OFFICER))
    assert to_practice["Your share"] == "£244.00" and "Your return" in to_practice
    assert to_officer["The practice's share"] == "£244.00" and "The practice's return" in to_officer
    assert not [label for label in to_officer if label.startswith("Your")]
    assert case.shown_facts() == case.shown_facts(Role.PRACTICE)  # the practice's own link page


def test_the_practice_is_a_party() -> None:
    assert practice_case().parties() == {"RYJ", "E87700"}


def test_a_practice_closed_with_its_incident_gives_no_date_for_anything_awaited() -> None:
    """A closed case's page and emails (`shown_facts`) give no 'Return due by' or 'Payment due by': it awaits
    nothing. The same rule as a stopped case's (`wording.without_awaited`)."""
    case = practice_case(returns_deadline=DEADLINE)
    assert "Return due by" in dict(case.shown_facts())
    case.close_by_parent("The incident was closed")
    assert case.outcome is not None and "Return due by" in dict(case.facts())
    assert not [label for label, _ in case.shown_facts() if label.endswith(("due by", "expected by"))]


def test_a_practice_told_its_share_then_closed_gives_no_payment_date() -> None:
    case = reach("share_notified")
    assert "Payment due by" in dict(case.shown_facts())
    case.close_by_parent("The incident was closed")
    assert "Payment due by" not in dict(case.shown_facts())


def test_a_correction_after_the_close_of_a_return_sent_in_time_is_refused_as_it_arrives() -> None:
    """It had been stored over the return sent in time, flagged late, and so left out of the claim. Refused in the
    update's validator alone (`check_as_sent`): a recorded run that took one replays as it ran."""
    from domain.escalation import ResponseRefused
    from domain.practice_return import ON_TIME_RETURN_STANDS

    case = reach("returns_closed")
    assert ("Returns", ON_TIME_RETURN_STANDS) in case.facts()
    assert "submit_return" in case.actions_for(Role.PRACTICE)  # as recorded runs took it
    assert "submit_return" not in case.actions_offered(Role.PRACTICE)  # but no page offers a form it would refuse
    correcting = practice("submit_return", counts={"patients_reviewed": 99, "recall_appointments": 1})
    with pytest.raises(ResponseRefused, match="the return you sent in time stands"):
        case.check_as_sent(correcting)
    case.apply(correcting, AFTER)  # as a recorded run took it
    assert case.late


def test_a_practice_that_has_not_returned_is_told_before_it_sends_that_returns_have_closed() -> None:
    from domain.practice_return import LATE_RETURN_WORDS

    case = reach("returns_closed", returned=False)
    assert ("Returns", LATE_RETURN_WORDS) in case.facts()
    case.check_as_sent(practice("submit_return", counts=COUNTS))  # a late first return is still taken
