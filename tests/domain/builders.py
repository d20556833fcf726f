"""Realistic cases for the pure domain tests: built from config/escalations.toml and examples/*.json
exactly as the service builds them, but with nothing but the domain (no Temporal, no database,
no web or service layer)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from domain.compensation_claim import CompensationClaimCase
from domain.configuration import EscalationConfig
from domain.confirmation import ConfirmationCase, ConfirmationRequest
from domain.contacts import Contact, Role
from domain.deregistration import KIND as DEREGISTRATION_KIND
from domain.deregistration import DeregistrationCase, DeregistrationRequest
from domain.escalation import CURRENT_RULES, AuditEffect, DeadlinePolicy, Effect, EmailEffect, EscalationCase
from domain.incident import StartChild
from domain.pathology import KIND as PATHOLOGY_KIND
from domain.pathology import PathologyCase, PathologyRequest
from domain.practice_return import Practice, PracticeCase, ReturnItem
from domain.responses import ResponseInput
from domain.unfunded_claim import KIND as CLAIM_KIND
from domain.unfunded_claim import ClaimCase, priced_claim
from domain.working_days import LONDON

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# The LMC (config/escalations.toml)
OFFICER = "ceo@lmc.example"
MEDSEC = "medsec@lmc.example"  # declared an interest in E85013 (Hanwell Surgery)
CHAIR = "chair@lmc.example"  # copied at level 3; not an officer
# NHS Kent and Medway ICB (QKS): the unfunded claim's payer
KENT = ("primarycare.contracts@kmicb.example", "director.primarycare@kmicb.example", "cmo@kmicb.example")
# NHS North West London ICB (QRV): the deregistration payer, copied on the pathology claim
NWL = ("pc.commissioning@nwlicb.example", "director.primarycare@nwlicb.example", "chief.executive@nwlicb.example")
# Imperial College Healthcare NHS Trust (RYJ): the pathology payer
IMPERIAL = (
    "gp.liaison@imperial.example",
    "medical.director@imperial.example",
    "medical.director.office@imperial.example",
)


# --- time: everything in London, as the rules are ------------------------------------------
def london(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def five_pm(year: int, month: int, day: int) -> datetime:
    """A deadline: 17:00 London on that date."""
    return datetime(year, month, day, 17, 0, tzinfo=LONDON)


# --- configuration and examples -------------------------------------------------------------
def config() -> EscalationConfig:
    """A fresh copy each time, so no test can change another's configuration."""
    return EscalationConfig.model_validate(tomllib.loads((ROOT / "config" / "escalations.toml").read_text()))


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / name).read_text())
    return data


def open_claim(now: datetime, policy: DeadlinePolicy | None = None, **changes: Any) -> tuple[ClaimCase, list[Effect]]:
    """The Kent unfunded work claim (£2,837.00 across six lines, priced from the tariff)."""
    cfg = config()
    claim = priced_claim({**example("unfunded_claim_kent.json"), **changes}, cfg.tariff)
    officer = cfg.lmc.officer(claim.officer_email)
    assert officer is not None
    return ClaimCase.open(
        "UWC-2026-TEST01",
        claim,
        cfg.lmc,
        officer,
        cfg.organisation(claim.payer_code),
        policy or cfg.policy(CLAIM_KIND),
        now,
    )


def practices_of(entries: Iterable[dict[str, Any]]) -> list[Practice]:
    return [
        Practice(
            ods=p["ods"],
            name=p["name"],
            contact=Contact(name=p["contact_name"], title="Practice manager", email=p["contact_email"]),
        )
        for p in entries
    ]


def open_pathology(now: datetime, **changes: Any) -> tuple[PathologyCase, list[Effect]]:
    """The NWL uACR incident: Imperial's lab error, 40 practices, NWL ICB copied."""
    cfg = config()
    request = PathologyRequest.model_validate({**example("pathology_nwl_uacr.json"), **changes})
    officer = cfg.lmc.officer(request.officer_email)
    assert officer is not None
    return PathologyCase.open(
        "PEC-2026-TEST01",
        request,
        practices_of(p.model_dump() for p in request.practices),
        cfg.lmc,
        officer,
        cfg.organisation(request.trust_code),
        cfg.organisation(request.icb_code),
        cfg.policy(PATHOLOGY_KIND),
        now,
    )


def open_deregistration(now: datetime, **changes: Any) -> tuple[DeregistrationCase, list[Effect]]:
    """The NWL Pathfinder deregistrations: 12 practices, the 2024/25 rate (£112.50)."""
    cfg = config()
    request = DeregistrationRequest.model_validate({**example("deregistration_nwl_pathfinder.json"), **changes})
    officer = cfg.lmc.officer(request.officer_email)
    assert officer is not None
    return DeregistrationCase.open(
        "PDR-2026-TEST01",
        request,
        practices_of(p.model_dump() for p in request.practices),
        cfg.capitation_rate(request.rate_year),
        cfg.lmc,
        officer,
        cfg.organisation(request.icb_code),
        cfg.policy(DEREGISTRATION_KIND),
        now,
    )


def open_compensation(now: datetime, claimed_pence: int = 1_234_500) -> tuple[CompensationClaimCase, list[Effect]]:
    """The pathology incident's claim to Imperial, as its workflow opens it (NWL ICB copied)."""
    cfg = config()
    officer = cfg.lmc.officer(OFFICER)
    assert officer is not None
    case, effects = CompensationClaimCase.open(
        "PEC-2026-TEST01-CLAIM",
        "Imperial uACR lab error, 2024/25",
        claimed_pence,
        [("Practices claiming", "3")],
        cfg.lmc,
        officer,
        cfg.organisation("RYJ"),
        cfg.organisation("QRV"),
        cfg.policy(PATHOLOGY_KIND),
        now,
    )
    case.related_parties = ["E87700", "E87701", "E87702", "QRV", "RYJ"]
    return case, effects


def child_request(effects: list[Effect], topic: str) -> StartChild:
    [child] = [e for e in effects if isinstance(e, StartChild) and e.topic == topic]
    return child


def open_confirmation(
    start: StartChild, policy: DeadlinePolicy, now: datetime
) -> tuple[ConfirmationCase, list[Effect]]:
    """A payer request exactly as the incident's workflow starts it from a `StartChild`."""
    cfg = config()
    officer = cfg.lmc.officer(OFFICER)
    assert officer is not None and start.confirmation is not None
    case, effects = ConfirmationCase.open(
        start.child_id, start.confirmation, cfg.lmc, officer, start.payer, policy, now
    )
    case.related_parties = start.parties
    return case, effects


def confirmation_request(**changes: Any) -> ConfirmationRequest:
    fields: dict[str, Any] = {
        "topic": "icb_message",
        "title": "Confirm the message to practices was sent",
        "ask": ["Please confirm that it was sent."],
        "reference_label": "Date sent, or the message's reference",
        "deadline_days": 10,
    }
    return ConfirmationRequest.model_validate({**fields, **changes})


def practice_case(
    return_kind: Literal["counts", "groups"] = "counts",
    returns_deadline: datetime | None = None,
    ods: str = "E87700",
    items: list[ReturnItem] | None = None,
    rules: int = CURRENT_RULES,
) -> PracticeCase:
    """One practice's case, built as workflows/practice.py builds it from the incident's StartPractices
    (a new incident's practices run under its rules, the current ones)."""
    cfg = config()
    officer = cfg.lmc.officer(OFFICER)
    assert officer is not None
    if items is None and return_kind == "counts":
        items = [
            ReturnItem(key="patients_reviewed", label="Affected patient reviewed", rate_pence=1200),
            ReturnItem(key="recall_appointments", label="Recall appointment", rate_pence=2500),
        ]
    return PracticeCase(
        escalation_id=f"PEC-2026-TEST01-{ods}",
        kind="practice_return",
        title="Imperial uACR lab error, 2024/25",
        lmc=cfg.lmc,
        officer=officer,
        payer=cfg.organisation("RYJ" if return_kind == "counts" else "QRV"),
        policy=cfg.policy(PATHOLOGY_KIND if return_kind == "counts" else DEREGISTRATION_KIND),
        status="awaiting_return",
        practice=Practice(
            ods=ods,
            name="Paddington Medical Centre",
            contact=Contact(name="Practice Manager", title="Practice manager", email=f"pm.{ods.lower()}@nhs.example"),
        ),
        parent_id="PEC-2026-TEST01",
        return_kind=return_kind,
        items=items or [],
        returns_deadline=returns_deadline or five_pm(2027, 1, 5),
        rules=rules,
    )


# --- responses -------------------------------------------------------------------------------
def payer(action: str, email: str = KENT[0], **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=Role.PAYER, **fields)


def officer(action: str, email: str = OFFICER, **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=Role.OFFICER, **fields)


def practice(action: str, email: str = "pm.e87700@nhs.example", **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=Role.PRACTICE, **fields)


def as_role(role: Role, action: str, email: str, **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=role, **fields)


# --- effects ---------------------------------------------------------------------------------
def audits(effects: Iterable[Effect]) -> list[str]:
    return [e.event for e in effects if isinstance(e, AuditEffect)]


def audit_entries(effects: Iterable[Effect]) -> list[tuple[str, str, dict[str, Any]]]:
    """Each audit entry as (event, actor, detail)."""
    return [(e.event, e.actor, e.detail) for e in effects if isinstance(e, AuditEffect)]


def emails(effects: Iterable[Effect]) -> list[EmailEffect]:
    return [e for e in effects if isinstance(e, EmailEffect)]


def mail(effects: Iterable[Effect]) -> list[tuple[str, str, list[str]]]:
    """Each email as (purpose, to, cc), the shape the tables below compare."""
    return [(e.purpose, e.to.email, [c.email for c in e.cc]) for e in emails(effects)]


def of_type(effects: Iterable[Effect], kind: type[T]) -> list[T]:
    return [e for e in effects if isinstance(e, kind)]


def state(case: EscalationCase) -> dict[str, Any]:
    """Everything about a case, to show a refusal changed nothing."""
    return case.model_dump(mode="json")


def fire(case: EscalationCase) -> list[Effect]:
    """What the workflow does when the case's timer comes due: wake it at that instant."""
    when = case.next_timer()
    assert when is not None, "no timer pending"
    return case.on_timer(when)


def wait_of(case: EscalationCase) -> tuple[str, Role, datetime | None] | None:
    return None if case.wait is None else (case.wait.purpose, case.wait.holder, case.wait.deadline)
