"""The unfunded work claim, declared for every layer (domain: `domain/unfunded_claim.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain import payment
from domain.configuration import EscalationConfig
from domain.contacts import Role
from domain.escalation import CURRENT_RULES
from domain.money import format_pence, how_to_write
from domain.negotiation import DECISIONS, Act
from domain.unfunded_claim import (
    ACTION_LABELS,
    COMMISSION,
    CONFIRM_PAYMENT,
    KIND,
    Category,
    ClaimCase,
    ClaimRequest,
    ClaimSubmission,
    price_lines,
)
from domain.working_days import london_date, past_date_problem
from kinds import resolve
from kinds.spec import KindSpec, StartForm
from service import kind_names
from service.gate import admit, refuse_field
from service.refusals import Refused
from workflows.unfunded_claim import StartClaim, UnfundedClaimWorkflow


def build(config: EscalationConfig, data: dict[str, Any], escalation_id: str) -> StartClaim:
    claim = admit(ClaimSubmission, price_lines(data, config.tariff)).as_request()
    today = london_date(datetime.now(UTC))
    for name, day in (("period_start", claim.period_start), ("period_end", claim.period_end)):
        if (problem := past_date_problem(day, today, "a claim is for work already done")) is not None:
            raise refuse_field(name, problem)
    parties = {claim.payer_code: "payer_code", **{ods: f"practices.{n}" for n, ods in enumerate(claim.practices)}}
    officer = resolve.officer(config, claim.officer_email, parties)
    payer = resolve.organisation(config, "payer_code", claim.payer_code)
    unpriced = [i for i, line in enumerate(claim.lines) if line.unit_rate_pence == 0]
    if unpriced:
        row = unpriced[0]
        given = data.get("lines")
        stated = isinstance(given, list) and isinstance(given[row], dict) and "unit_rate_pence" in given[row]
        raise refuse_field(
            f"lines.{row}.unit_rate_pence",
            f"a rate must be more than £0.00 ({IN_A_FILE})"
            if stated
            else f"no rate given, and the tariff has none for this kind of work; give a rate per item ({IN_A_FILE})",
        )
    return StartClaim(
        escalation_id=escalation_id,
        claim=claim,
        lmc=config.lmc,
        officer=officer,
        payer=payer,
        policy=config.policy(KIND),
        rules=CURRENT_RULES,
    )


LINE_FIELDS = ("category", "count", "unit_rate", "description", "evidence_refs")
IN_A_FILE = how_to_write("unit_rate_pence", 1500)


def form_rows(form: Mapping[str, str]) -> dict[str, list[int]]:
    return {"lines": resolve.filled_rows(form, "lines", LINE_FIELDS)}


def form_to_data(form: Mapping[str, str], officer_email: str) -> dict[str, Any]:
    lines = []
    missing: dict[str, str] = {}
    for row in resolve.filled_rows(form, "lines", LINE_FIELDS):
        category = form.get(f"lines.{row}.category", "").strip()
        count = form.get(f"lines.{row}.count", "").strip()
        description = form.get(f"lines.{row}.description", "")
        refs = [r.strip() for r in form.get(f"lines.{row}.evidence_refs", "").split(",") if r.strip()]
        if not (category and count):  # partly filled: refused beside what it lacks, never dropped unseen
            missing[f"lines.{row}.{'count' if category else 'category'}"] = (
                "give this line's " + ("count" if category else "kind of work") + ", or clear the line"
            )
            continue
        line: dict[str, Any] = {
            "category": category,
            "count": resolve.number(count),
            "description": description,
            "evidence_refs": refs,
        }
        rate = form.get(f"lines.{row}.unit_rate", "").strip()
        if rate:  # otherwise the tariff's rate for the category
            line["unit_rate_pence"] = resolve.pounds(rate, f"lines.{row}.unit_rate_pence", missing)
        lines.append(line)
    extra = sorted(
        {k.split(".")[1] for k in form if k.startswith("lines.")} - {str(r) for r in range(resolve.FORM_ROWS)}
    )
    if extra:  # only a hand-made request: the form has FORM_ROWS rows
        missing["lines"] = f"the form takes {resolve.FORM_ROWS} lines; for more, start the claim from a file"
    if missing:
        raise Refused.invalid(missing)
    return {
        "title": form.get("title", ""),
        "officer_email": officer_email,
        "payer_code": form.get("payer_code", ""),
        "provider": form.get("provider", ""),
        "practices": form.get("practices", "").replace(",", " ").split(),
        "period_start": resolve.optional(form, "period_start"),
        "period_end": resolve.optional(form, "period_end"),
        "summary": form.get("summary", ""),
        "lines": lines,
    }


def form_context(config: EscalationConfig) -> dict[str, Any]:
    return {**resolve.organisations_context(config), "categories": [c.value for c in Category]}


def announce(start: StartClaim) -> str:
    return f"Claim of {format_pence(start.claim.total_pence)} sent to {start.payer.name}."


SPEC = KindSpec(
    name=KIND,
    label=kind_names.LABELS[KIND],
    id_prefix="UWC",
    cli_command="start-claim",
    example="examples/unfunded_claim_kent.json",
    request_model=ClaimRequest,
    case_model=ClaimCase,
    build=build,
    run=UnfundedClaimWorkflow.run,
    workflows=(UnfundedClaimWorkflow,),
    payer_code=lambda start: start.payer.code,
    first_status="submitted",
    announce=announce,
    form=StartForm(template="start/unfunded_claim.html", to_data=form_to_data, context=form_context, rows=form_rows),
    parties={
        Role.PAYER: (Act.ACKNOWLEDGE.value, *(a.value for a in DECISIONS), COMMISSION),
        Role.OFFICER: (
            Act.SUPPLY_INFO.value,
            Act.ACCEPT_OFFER.value,
            Act.DISPUTE.value,
            Act.WITHDRAW.value,
            CONFIRM_PAYMENT,
            *payment.RESOLVING,
        ),
    },
    labels=ACTION_LABELS,
)
