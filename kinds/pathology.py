"""Pathology error compensation, declared for every layer (domain: `domain/pathology.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.configuration import EscalationConfig
from domain.escalation import CURRENT_RULES
from domain.pathology import KIND, PathologyCase, PathologyDetails, PathologyRequest, request_problems
from domain.working_days import add_working_days, london_date
from kinds import incident_list, incident_parties, resolve
from kinds.spec import KindSpec, StartForm
from service import kind_names
from service.gate import admit, admit_count
from service.refusals import Refused
from workflows.compensation_claim import CompensationClaimWorkflow
from workflows.confirmation import ConfirmationWorkflow
from workflows.pathology import PathologyWorkflow, StartPathology
from workflows.practice import PracticeWorkflow
from workflows.practice_cohort import PracticeCohortWorkflow


def build(config: EscalationConfig, data: dict[str, Any], escalation_id: str) -> StartPathology:
    admit_count("practices", data, config.incidents.max_practices, "practices")
    request = admit(PathologyRequest, data)
    now = datetime.now(UTC)
    returns_due = london_date(add_working_days(config.calendar, now, config.policy(KIND).practice_return_days))
    problems = request_problems(request, config.calendar, london_date(now), returns_due)
    if problems:
        raise Refused.invalid(problems)
    parties = {request.trust_code: "trust_code", request.icb_code: "icb_code", **resolve.practice_parties(request)}
    officer = resolve.officer(config, request.officer_email, parties)
    trust = resolve.organisation(config, "trust_code", request.trust_code, kind="trust")
    icb = resolve.organisation(config, "icb_code", request.icb_code, kind="icb")
    return StartPathology(
        escalation_id=escalation_id,
        request=PathologyDetails.of(request),
        practices=resolve.practices(request.practices),
        lmc=config.lmc,
        officer=officer,
        trust=trust,
        icb=icb,
        policy=config.policy(KIND),
        rules=CURRENT_RULES,
        cohorts_at_once=config.incidents.cohorts_at_once,
    )


TARIFF_FIELDS = ("key", "label", "rate")


def form_rows(form: Mapping[str, str]) -> dict[str, list[int]]:
    return {"tariff": resolve.filled_rows(form, "tariff", TARIFF_FIELDS), **resolve.practice_rows(form)}


def form_to_data(form: Mapping[str, str], officer_email: str) -> dict[str, Any]:
    tariff = []
    unread: dict[str, str] = {}
    for row in resolve.filled_rows(form, "tariff", TARIFF_FIELDS):
        key, label, rate = (form.get(f"tariff.{row}.{f}", "").strip() for f in TARIFF_FIELDS)
        tariff.append(
            {"key": key, "label": label, "rate_pence": resolve.pounds(rate, f"tariff.{row}.rate_pence", unread)}
        )
    if unread:
        raise Refused.invalid(unread)
    return {
        "title": form.get("title", ""),
        "officer_email": officer_email,
        "trust_code": form.get("trust_code", ""),
        "icb_code": form.get("icb_code", ""),
        "service": form.get("service", ""),
        "test": form.get("test", ""),
        "error_start": resolve.optional(form, "error_start"),
        "error_end": resolve.optional(form, "error_end"),
        "description": form.get("description", ""),
        "tariff": tariff,
        "practices": resolve.practice_lines(form.get("practices", ""), with_weighting=False),
        "return_deadline": resolve.optional(form, "return_deadline"),
        "year_end_reconciliation_date": resolve.optional(form, "year_end_reconciliation_date"),
    }


def announce(start: StartPathology) -> str:
    return (
        f"Returns requested from {incident_list.count(start)} practices; {start.icb.name} asked about "
        f"year-end recognition and {start.trust.name} for its incident report."
    )


SPEC = KindSpec(
    name=KIND,
    label=kind_names.LABELS[KIND],
    id_prefix="PEC",
    cli_command="start-pathology",
    example="examples/pathology_nwl_uacr.json",
    request_model=PathologyRequest,
    case_model=PathologyCase,
    build=build,
    run=PathologyWorkflow.run,
    workflows=(
        PathologyWorkflow,
        PracticeCohortWorkflow,
        PracticeWorkflow,
        ConfirmationWorkflow,
        CompensationClaimWorkflow,
    ),
    payer_code=lambda start: start.trust.code,
    first_status="collecting_returns",
    announce=announce,
    form=StartForm(
        template="start/pathology_error.html",
        to_data=form_to_data,
        context=resolve.organisations_context,
        rows=form_rows,
    ),
    parties=incident_parties.PARTIES_NEGOTIATING,
    labels=incident_parties.NEGOTIATION_LABELS,
    parts=("practice_return", "confirmation", "compensation_claim"),
    practice_list=incident_list.split,
)
