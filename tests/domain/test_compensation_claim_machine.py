"""The pathology incident's compensation claim to the trust (CompensationClaimCase), without Temporal.

The shared negotiation, with the trust as payer and the ICB copied on every email to the trust:
acknowledgement in 3 working days, then a decision within the trust response time (10 working days);
no commissioning and no payment step of its own: agreement closes it ("agreed") and the incident pays
each practice its share. When the ladder stalls at the trust's top, the ICB is asked to intervene.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from domain.compensation_claim import CompensationClaimCase
from domain.contacts import Role
from domain.escalation import ResponseRefused
from domain.responses import ResponseInput
from tests.domain.builders import (
    IMPERIAL,
    NWL,
    OFFICER,
    as_role,
    audits,
    emails,
    fire,
    five_pm,
    london,
    mail,
    officer,
    open_compensation,
    payer,
    state,
    wait_of,
)

CLAIMED = 1_234_500
OFFER = 1_000_000
OPENED = london(2026, 12, 14, 9)  # Monday: acknowledgement due Thursday 17 December 2026
ACT = london(2026, 12, 22, 11)
TRUST_DUE = five_pm(2027, 1, 8)  # 10 working days after Tuesday 22 December 2026
REPLY_DUE = five_pm(2027, 1, 8)  # the officer's reply: also 10 working days
PAYMENT_DUE = five_pm(2027, 1, 21)  # 30 calendar days

L1_CC = [OFFICER, NWL[0]]  # the officer, and the ICB's named contact
L2_CC = [OFFICER, IMPERIAL[0], NWL[0]]


def trust(action: str, email: str = IMPERIAL[0], **fields: object) -> ResponseInput:
    return payer(action, email=email, **fields)


VALID: dict[str, ResponseInput] = {
    "acknowledge": trust("acknowledge"),
    "accept": trust("accept"),
    "accept_part": trust("accept_part", amount_pence=OFFER, reasons="Admin hours overstated"),
    "reject": trust("reject", reasons="The error was the analyser supplier's"),
    "request_info": trust("request_info", text="How were recall appointments counted?"),
    "supply_info": officer("supply_info", text="From each practice's appointment book"),
    "accept_offer": officer("accept_offer"),
    "dispute": officer("dispute", reasons="The returns are counts, checked"),
    "withdraw": officer("withdraw", reasons="Settled through the ICB"),
    # the unfunded claim's own actions, never open here
    "commission": trust("commission", on_date=date(2027, 4, 1)),
    "confirm_payment": officer("confirm_payment"),
}
PATHS: dict[str, list[str]] = {
    "submitted": [],
    "acknowledged": ["acknowledge"],
    "information_requested": ["request_info"],
    "counter_offered": ["acknowledge", "accept_part"],
    "rejected": ["acknowledge", "reject"],
    "disputed": ["acknowledge", "reject", "dispute"],
    "closed": ["withdraw"],
}
DECISIONS = {"accept", "accept_part", "reject", "request_info"}
OPEN: dict[str, tuple[set[str], set[str]]] = {
    "submitted": ({"acknowledge", *DECISIONS}, {"withdraw"}),
    "acknowledged": (DECISIONS, {"withdraw"}),
    "information_requested": (set(), {"supply_info", "withdraw"}),
    "counter_offered": (set(), {"accept_offer", "dispute", "withdraw"}),
    "rejected": (set(), {"dispute", "withdraw"}),
    "disputed": (DECISIONS, {"withdraw"}),
    "closed": (set(), set()),
}


def reach(status: str) -> CompensationClaimCase:
    case, _ = open_compensation(OPENED, CLAIMED)
    for day, action in enumerate(PATHS[status], start=15):
        case.apply(VALID[action], london(2026, 12, day, 10))
    assert case.status == status
    return case


def test_opening_sends_the_claim_to_the_trust_with_the_icb_copied() -> None:
    case, effects = open_compensation(OPENED, CLAIMED)
    assert (case.kind, case.status, case.claimed_pence, case.payer.code, case.icb.code) == (
        "compensation_claim",
        "submitted",
        CLAIMED,
        "RYJ",
        "QRV",
    )
    assert wait_of(case) == ("acknowledgement", Role.PAYER, five_pm(2026, 12, 17))
    assert audits(effects) == ["submitted"]
    assert effects[0].model_dump()["detail"] == {"payer": "RYJ", "icb": "QRV", "claimed_pence": CLAIMED}
    assert mail(effects) == [("submitted", IMPERIAL[0], L1_CC)]
    [email] = emails(effects)
    assert email.actions == ["acknowledge", "accept", "accept_part", "reject", "request_info"]
    assert "£12,345.00" in email.paragraphs[0] and "NHS North West London ICB is copied" in email.paragraphs[0]
    assert "within 10 working days of acknowledging" in email.paragraphs[1]
    assert ("ICB (copied)", "NHS North West London ICB") in case.facts()


@pytest.mark.parametrize("role", [Role.PAYER, Role.OFFICER])
@pytest.mark.parametrize("action", VALID)
@pytest.mark.parametrize("status", OPEN)
def test_every_action_is_taken_only_by_its_side_in_its_states(status: str, action: str, role: Role) -> None:
    case = reach(status)
    response = VALID[action].model_copy(
        update={"actor_role": role, "actor_email": IMPERIAL[0] if role is Role.PAYER else OFFICER}
    )
    before = state(case)
    if action in OPEN[status][0 if role is Role.PAYER else 1]:
        case.check(response)
    else:
        with pytest.raises(
            ResponseRefused, match="closed \\(withdrawn by the LMC\\)" if status == "closed" else "is not open"
        ):
            case.check(response)
    assert state(case) == before


@pytest.mark.parametrize(
    ("start", "response", "status", "outcome", "wait", "sent", "events"),
    [
        pytest.param(
            "submitted", VALID["acknowledge"], "acknowledged", None,
            ("decision", Role.PAYER, TRUST_DUE), [("acknowledged", OFFICER, [])], ["response:acknowledge"],
            id="submitted-acknowledge",
        ),
        pytest.param(
            "submitted", VALID["accept"], "closed", "agreed",
            None, [("accepted", OFFICER, [])], ["response:accept", "closed"],
            id="submitted-accept",
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
            "acknowledged", VALID["accept"], "closed", "agreed",
            None, [("accepted", OFFICER, [])], ["response:accept", "closed"],
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
            # asked on 15 Dec with 2 of the acknowledgement's 3 working days left: they run again from 22 Dec
            "information_requested", VALID["supply_info"], "submitted", None,
            ("acknowledgement", Role.PAYER, five_pm(2026, 12, 24)), [("information_supplied", IMPERIAL[0], L1_CC)],
            ["response:supply_info"],
            id="information_requested-supply_info",
        ),
        pytest.param(
            "counter_offered", VALID["accept_offer"], "closed", "agreed",
            None, [("offer_accepted", IMPERIAL[0], L1_CC)], ["response:accept_offer", "closed"],
            id="counter_offered-accept_offer",
        ),
        pytest.param(
            "counter_offered", VALID["dispute"], "disputed", None,
            ("decision", Role.PAYER, TRUST_DUE), [("disputed", IMPERIAL[1], L2_CC)], ["response:dispute"],
            id="counter_offered-dispute",
        ),
        pytest.param(
            "rejected", VALID["dispute"], "disputed", None,
            ("decision", Role.PAYER, TRUST_DUE), [("disputed", IMPERIAL[1], L2_CC)], ["response:dispute"],
            id="rejected-dispute",
        ),
        pytest.param(
            "disputed", trust("accept", email=IMPERIAL[1]), "closed", "agreed",
            None, [("accepted", OFFICER, [])], ["response:accept", "closed"],
            id="disputed-accept",
        ),
        pytest.param(
            "disputed", VALID["accept_part"], "counter_offered", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("counter_offered", OFFICER, [])], ["response:accept_part"],
            id="disputed-accept_part",
        ),
        pytest.param(
            "disputed", VALID["reject"], "rejected", None,
            ("officer_reply", Role.OFFICER, REPLY_DUE), [("rejected", OFFICER, [])], ["response:reject"],
            id="disputed-reject",
        ),
        pytest.param(
            "disputed", VALID["request_info"], "information_requested", None,
            ("information", Role.OFFICER, REPLY_DUE), [("information_requested", OFFICER, [])],
            ["response:request_info"],
            id="disputed-request_info",
        ),
        *(
            pytest.param(
                start, VALID["withdraw"], "closed", "withdrawn",
                None,
                [("withdrawn", IMPERIAL[1], L2_CC) if start == "disputed" else ("withdrawn", IMPERIAL[0], L1_CC)],
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
    result, effects = case.apply(response, ACT)
    assert (case.status, case.outcome, result.status) == (status, outcome, status)
    assert wait_of(case) == wait
    assert mail(effects) == sent
    assert audits(effects) == events
    for email in emails(effects):
        assert email.actions == case.actions_for(email.to_role)


@pytest.mark.parametrize(
    ("start", "response", "agreed", "due"),
    [
        ("submitted", VALID["accept"], CLAIMED, PAYMENT_DUE),
        ("acknowledged", trust("accept", on_date=date(2027, 2, 26)), CLAIMED, five_pm(2027, 2, 26)),
        ("counter_offered", VALID["accept_offer"], OFFER, PAYMENT_DUE),
    ],
)
def test_agreement_closes_the_claim_with_the_amount_and_the_date_each_practice_is_told(
    start: str, response: ResponseInput, agreed: int, due: datetime
) -> None:
    case = reach(start)
    result, _ = case.apply(response, ACT)
    assert (case.outcome, case.agreed_pence, case.payment_due) == ("agreed", agreed, due)
    assert f"due by {due.day} {due:%B %Y}" in result.message
    assert ("Payment expected by", f"{due.day} {due:%B %Y}") in case.facts()


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (trust("acknowledge", email=NWL[0]), "not a contact of Imperial College Healthcare NHS Trust"),  # ICB: copied
        (as_role(Role.OBSERVER, "acknowledge", NWL[0]), "nothing is open to you now"),
        (trust("accept_part", amount_pence=CLAIMED, reasons="All"), "must be less than the £12,345.00"),
        (trust("accept_part", amount_pence=OFFER), "reasons: give your reasons"),
        (trust("request_info", text=""), "text: say what information"),
        (
            trust("commission", on_date=date(2027, 4, 1)),
            "not open at this stage \\(sent, waiting for acknowledgement\\)",
        ),
    ],
)
def test_refusals(response: ResponseInput, error: str) -> None:
    case, _ = open_compensation(OPENED, CLAIMED)
    before = state(case)
    with pytest.raises(ResponseRefused, match=error):
        case.apply(response, ACT)
    assert state(case) == before


@pytest.mark.parametrize(
    ("sent", "acknowledgement", "decision"),
    [
        # sent Friday 18 Dec 2026; acknowledged the day it is due
        (london(2026, 12, 18, 10), five_pm(2026, 12, 23), five_pm(2027, 1, 11)),
        # sent on Christmas Eve: 29, 30, 31 December
        (london(2026, 12, 24, 10), five_pm(2026, 12, 31), five_pm(2027, 1, 15)),
        # over Easter 2027 (Good Friday 26 March, Easter Monday 29 March), into BST
        (london(2027, 3, 24, 10), five_pm(2027, 3, 31), five_pm(2027, 4, 14)),
    ],
)
def test_acknowledgement_in_three_working_days_then_the_trust_response_time(
    sent: datetime, acknowledgement: datetime, decision: datetime
) -> None:
    case, _ = open_compensation(sent, CLAIMED)
    assert case.next_timer() == acknowledgement
    case.apply(VALID["acknowledge"], acknowledgement.replace(hour=12))
    assert wait_of(case) == ("decision", Role.PAYER, decision)


def test_every_email_to_the_trust_copies_the_icb_at_every_level() -> None:
    case, _ = open_compensation(OPENED, CLAIMED)
    copied = []
    for _ in range(5):
        effects = fire(case)
        copied.append(mail(effects)[0][1:])
    assert copied == [
        (IMPERIAL[0], L1_CC),
        (IMPERIAL[1], L2_CC),
        (IMPERIAL[1], L2_CC),
        (IMPERIAL[2], [OFFICER, IMPERIAL[0], "chair@lmc.example", NWL[0]]),
        (IMPERIAL[2], [OFFICER, IMPERIAL[0], "chair@lmc.example", NWL[0]]),
    ]


def test_stalling_at_the_trusts_top_asks_the_icb_to_intervene_once() -> None:
    case, _ = open_compensation(OPENED, CLAIMED)
    for _ in range(5):
        fire(case)
    effects = fire(case)
    assert audits(effects) == ["deadline_missed", "stalled"]
    assert mail(effects) == [("stalled-acknowledgement", OFFICER, []), ("stalled-icb-told", NWL[0], [])]
    told = emails(effects)[1]
    assert told.to_role is Role.OBSERVER and told.actions == []  # the ICB is told, and has nothing to do here
    assert "asks the ICB, as commissioner, to intervene" in told.paragraphs[0]
    assert (case.ladder.stalled, case.next_timer(), case.outcome) == (True, None, None)
    assert case.on_timer(london(2027, 6, 1)) == []


def test_the_parties_include_the_trust_the_icb_and_the_incidents_practices() -> None:
    case, _ = open_compensation(OPENED, CLAIMED)
    assert case.parties() == {"RYJ", "QRV", "E87700", "E87701", "E87702"}


def test_accepting_a_counter_offer_keeps_the_payment_date_the_trust_gave() -> None:
    case = reach("acknowledged")
    case.apply(trust("accept_part", amount_pence=OFFER, reasons="Part", on_date=date(2027, 2, 26)), ACT)
    case.apply(VALID["accept_offer"], london(2026, 12, 23, 10))
    assert case.payment_due == five_pm(2027, 2, 26)


def test_once_a_lower_sum_is_agreed_the_trusts_schedule_gives_each_practices_share_of_it() -> None:
    """The schedule had still listed each practice's claim, adding up to the sum claimed, while the practices were
    told shares of the sum agreed: the trust read one set of figures and the practices another."""
    from domain.money import pro_rata_shares
    from domain.tables import ScheduleLine

    case = reach("acknowledged")
    case.schedule_items = ["reviews"]
    case.schedule = [
        ScheduleLine(ods="E87700", name="Paddington", counts=[11], pence=25_300),
        ScheduleLine(ods="E87701", name="Marylebone", counts=[0], pence=0),
        ScheduleLine(ods="E87702", name="Westbourne", counts=[21], pence=49_500),
    ]
    case.claimed_pence = 74_800
    before = case.tables()[0].total
    assert before is not None and before[-1] == "£748.00"  # the claim, before any agreement
    case.apply(trust("accept_part", amount_pence=60_050, reasons="Part", on_date=date(2027, 2, 26)), ACT)
    case.apply(VALID["accept_offer"], london(2026, 12, 23, 10))
    [schedule] = case.tables()
    shares = pro_rata_shares(60_050, {"E87700": 25_300, "E87701": 0, "E87702": 49_500})
    assert [row[-1] for row in schedule.rows] == ["£203.11", "£0.00", "£397.39"]
    assert sum(shares.values()) == 60_050 and schedule.total is not None and schedule.total[-1] == "£600.50"
    assert "£600.50 agreed, shared pro rata" in schedule.caption


def test_a_schedule_cut_short_shares_the_sum_agreed_with_the_practices_it_does_not_list() -> None:
    """Past `SCHEDULE_LIMIT` lines the schedule lists some practices; the sum agreed is shared over all the claims,
    so each listed share is what that practice is told, and the caption says how much goes to the rest."""
    from domain.tables import ScheduleLine

    case = reach("acknowledged")
    case.schedule_items = ["reviews"]
    case.schedule = [ScheduleLine(ods="E87700", name="Paddington", counts=[11], pence=25_300)]
    case.claimed_pence = 74_800  # 49,500 more claimed by practices the schedule does not list
    case.apply(trust("accept_part", amount_pence=60_050, reasons="Part", on_date=date(2027, 2, 26)), ACT)
    case.apply(VALID["accept_offer"], london(2026, 12, 23, 10))
    [schedule] = case.tables()
    assert [row[-1] for row in schedule.rows] == ["£203.11"]
    assert "(£397.39 of it to practices not listed here)" in schedule.caption


def test_a_share_of_a_sum_is_rounded_down_so_short_never_reads_whole() -> None:
    from domain.money import share_of

    assert (share_of(99_996, 100_000), share_of(40_000, 55_664), share_of(1, 100_000)) == (
        "99.9%", "71.8%", "less than 0.1%",
    )  # fmt: skip
