"""Pathfinder deregistration redistribution, declared for every layer (domain: `domain/deregistration.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.configuration import EscalationConfig
from domain.deregistration import (
    KIND,
    DeregistrationCase,
    DeregistrationDetails,
    DeregistrationRequest,
    request_problems,
)
from domain.escalation import CURRENT_RULES
from domain.working_days import london_date
from kinds import incident_list, incident_parties, resolve
from kinds.spec import KindSpec, StartForm
from service import kind_names
from service.gate import admit, admit_count, refuse_field
from service.refusals import Refused
from workflows.confirmation import ConfirmationWorkflow
from workflows.deregistration import DeregistrationWorkflow, StartDeregistration
from workflows.practice import PracticeWorkflow
from workflows.practice_cohort import PracticeCohortWorkflow


def build(config: EscalationConfig, data: dict[str, Any], escalation_id: str) -> StartDeregistration:
    admit_count("practices", data, config.incidents.max_practices, "practices")
    request = admit(DeregistrationRequest, data)
    try:  # first: the dates are judged against the rate year, so one not configured is said alone
        rate = config.capitation_rate(request.rate_year)
    except ValueError as err:
        raise refuse_field("rate_year", str(err).removeprefix("rate_year: ")) from err
    problems = request_problems(request, london_date(datetime.now(UTC)))
    if problems:
        raise Refused.invalid(problems)
    parties = {request.icb_code: "icb_code", **resolve.practice_parties(request)}
    officer = resolve.officer(config, request.officer_email, parties)
    icb = resolve.organisation(config, "icb_code", request.icb_code, kind="icb")
    return StartDeregistration(
        escalation_id=escalation_id,
        request=DeregistrationDetails.of(request),
        practices=resolve.practices(request.practices),
        rate=rate,
        lmc=config.lmc,
        officer=officer,
        icb=icb,
        policy=config.policy(KIND),
        rules=CURRENT_RULES,
        cohorts_at_once=config.incidents.cohorts_at_once,
    )


def form_to_data(form: Mapping[str, str], officer_email: str) -> dict[str, Any]:
    return {
        "title": form.get("title", ""),
        "officer_email": officer_email,
        "icb_code": form.get("icb_code", ""),
        "summary": form.get("summary", ""),
        "rate_year": form.get("rate_year", ""),
        "incident_start": resolve.optional(form, "incident_start"),
        "still_off_until": resolve.optional(form, "still_off_until"),
        "practices": resolve.practice_lines(form.get("practices", ""), with_weighting=True),
    }


def form_context(config: EscalationConfig) -> dict[str, Any]:
    return {**resolve.organisations_context(config), "rate_years": list(config.capitation_rates)}


def announce(start: StartDeregistration) -> str:
    return (
        f"Returns requested from {incident_list.count(start)} practices; {start.icb.name} asked to confirm its message."
    )


SPEC = KindSpec(
    name=KIND,
    label=kind_names.LABELS[KIND],
    id_prefix="PDR",
    cli_command="start-deregistration",
    example="examples/deregistration_nwl_pathfinder.json",
    request_model=DeregistrationRequest,
    case_model=DeregistrationCase,
    build=build,
    run=DeregistrationWorkflow.run,
    workflows=(DeregistrationWorkflow, PracticeCohortWorkflow, PracticeWorkflow, ConfirmationWorkflow),
    payer_code=lambda start: start.icb.code,
    first_status="collecting_returns",
    announce=announce,
    form=StartForm(
        template="start/deregistration.html", to_data=form_to_data, context=form_context, rows=resolve.practice_rows
    ),
    parties=incident_parties.PARTIES_CONFIRMING,
    labels=incident_parties.LABELS,
    parts=("practice_return", "confirmation"),
    practice_list=incident_list.split,
)
