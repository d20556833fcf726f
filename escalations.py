"""Starting, reading and answering escalations through Temporal: shared by the officer's
command line (`starter.py`) and the web app."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from activities.email import SettleHeldEmail
from domain.configuration import EscalationConfig
from domain.deregistration import KIND as DEREGISTRATION_KIND
from domain.deregistration import DeregistrationRequest
from domain.pathology import KIND as PATHOLOGY_KIND
from domain.pathology import PathologyRequest
from domain.practice_return import Practice
from domain.report import ClaimFigures, in_period
from domain.responses import ResponseInput, ResponseOutcome
from domain.unfunded_claim import KIND as CLAIM_KIND
from domain.unfunded_claim import ClaimRequest, priced_claim
from domain.validation import describe
from mail.delivery import SmtpDelivery
from persistence.audit_log import AuditLog
from persistence.sent_mail import SentEmail
from settings import Settings
from workflows import search_attributes as sa
from workflows.deregistration import DeregistrationWorkflow, StartDeregistration
from workflows.escalation_workflow import HELD_EMAIL_EVENTS, CaseView, EscalationWorkflow
from workflows.pathology import PathologyWorkflow, StartPathology
from workflows.unfunded_claim import StartClaim, UnfundedClaimWorkflow

ID_PREFIX = {CLAIM_KIND: "UWC", DEREGISTRATION_KIND: "PDR", PATHOLOGY_KIND: "PEC"}
_ID_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


class InputRefused(Exception):
    """Bad input, with the field named; nothing was started or changed."""


def new_escalation_id(kind: str, today: date | None = None) -> str:
    """A case reference that says nothing about patients or practices: kind, year, random."""
    year = (today or datetime.now(UTC).date()).year
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
    return f"{ID_PREFIX[kind]}-{year}-{suffix}"


def build_start_claim(config: EscalationConfig, data: dict[str, Any], escalation_id: str | None = None) -> StartClaim:
    try:
        claim = priced_claim(data, config.tariff)
    except ValidationError as err:
        raise InputRefused(describe(err)) from err
    officer, payer = _officer_and_payer(config, claim.officer_email, "payer_code", claim.payer_code)
    unpriced = [str(i) for i, line in enumerate(claim.lines) if line.unit_rate_pence == 0]
    if unpriced:
        raise InputRefused(f"lines.{unpriced[0]}.unit_rate_pence: no rate given and none in the tariff")
    return StartClaim(
        escalation_id=escalation_id or new_escalation_id(CLAIM_KIND),
        claim=claim,
        lmc=config.lmc,
        officer=officer,
        payer=payer,
        policy=config.policy(CLAIM_KIND),
    )


def _validated(model: Any, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InputRefused(describe(err)) from err


def _officer_and_payer(
    config: EscalationConfig, officer_email: str, payer_field: str, payer_code: str
) -> tuple[Any, Any]:
    officer = config.lmc.officer(officer_email)
    if officer is None:
        raise InputRefused(f"officer_email: {officer_email} is not an officer of {config.lmc.name}")
    try:
        payer = config.organisation(payer_code)
    except ValueError as err:
        raise InputRefused(str(err).replace("payer_code", payer_field)) from err
    return officer, payer


def build_start_deregistration(
    config: EscalationConfig, data: dict[str, Any], escalation_id: str | None = None
) -> StartDeregistration:
    request: DeregistrationRequest = _validated(DeregistrationRequest, data)
    officer, icb = _officer_and_payer(config, request.officer_email, "icb_code", request.icb_code)
    if icb.kind != "icb":
        raise InputRefused(f"icb_code: {icb.code} is a {icb.kind}, not an ICB")
    try:
        rate = config.capitation_rate(request.rate_year)
    except ValueError as err:
        raise InputRefused(str(err)) from err
    practices = _practices(request.practices)
    return StartDeregistration(
        escalation_id=escalation_id or new_escalation_id(DEREGISTRATION_KIND),
        request=request,
        practices=practices,
        rate=rate,
        lmc=config.lmc,
        officer=officer,
        icb=icb,
        policy=config.policy(DEREGISTRATION_KIND),
    )


def _practices(entries: list[Any]) -> list[Practice]:
    return [
        _validated(
            Practice,
            {
                "ods": p.ods,
                "name": p.name,
                "contact": {"name": p.contact_name, "title": "Practice manager", "email": p.contact_email},
            },
        )
        for p in entries
    ]


def build_start_pathology(
    config: EscalationConfig, data: dict[str, Any], escalation_id: str | None = None
) -> StartPathology:
    request: PathologyRequest = _validated(PathologyRequest, data)
    officer, trust = _officer_and_payer(config, request.officer_email, "trust_code", request.trust_code)
    _, icb = _officer_and_payer(config, request.officer_email, "icb_code", request.icb_code)
    if trust.kind != "trust":
        raise InputRefused(f"trust_code: {trust.code} is an {trust.kind}, not a trust")
    if icb.kind != "icb":
        raise InputRefused(f"icb_code: {icb.code} is a {icb.kind}, not an ICB")
    return StartPathology(
        escalation_id=escalation_id or new_escalation_id(PATHOLOGY_KIND),
        request=request,
        practices=_practices(request.practices),
        lmc=config.lmc,
        officer=officer,
        trust=trust,
        icb=icb,
        policy=config.policy(PATHOLOGY_KIND),
    )


async def _start(client: Client, settings: Settings, run: Any, start: Any, kind: str, payer: str, status: str) -> str:
    """Start an escalation's workflow under its own ID, with the search attributes ops filter on."""
    await client.start_workflow(
        run,
        start,
        id=start.escalation_id,
        task_queue=settings.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.KIND, kind),
                SearchAttributePair(sa.STATUS, status),
                SearchAttributePair(sa.PAYER, payer),
            ]
        ),
    )
    return str(start.escalation_id)


async def start_claim(client: Client, settings: Settings, start: StartClaim) -> str:
    return await _start(client, settings, UnfundedClaimWorkflow.run, start, CLAIM_KIND, start.payer.code, "submitted")


async def start_pathology(client: Client, settings: Settings, start: StartPathology) -> str:
    return await _start(
        client, settings, PathologyWorkflow.run, start, PATHOLOGY_KIND, start.trust.code, "collecting_returns"
    )


async def start_deregistration(client: Client, settings: Settings, start: StartDeregistration) -> str:
    return await _start(
        client, settings, DeregistrationWorkflow.run, start, DEREGISTRATION_KIND, start.icb.code, "collecting_returns"
    )


async def summary(client: Client, escalation_id: str) -> CaseView:
    return await client.get_workflow_handle(escalation_id).query(EscalationWorkflow.summary)


async def respond(client: Client, escalation_id: str, response: ResponseInput) -> ResponseOutcome:
    """Send a response as a Temporal update; refused responses raise InputRefused with the reason."""
    handle = client.get_workflow_handle(escalation_id)
    try:
        return await handle.execute_update(EscalationWorkflow.respond, response)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise InputRefused(getattr(cause, "message", None) or str(cause)) from err


TOP_LEVEL_KINDS = (CLAIM_KIND, PATHOLOGY_KIND, DEREGISTRATION_KIND)


def list_query(
    kind: str | None,
    status: str | None,
    overdue: bool,
    stalled: bool = False,
    payer: str | None = None,
    level: int | None = None,
) -> str:
    """A visibility query; without a kind, the escalations officers start (not practices' or payers' parts)."""
    kinds = ", ".join(f"'{k}'" for k in TOP_LEVEL_KINDS)
    clauses = [] if kind else [f"{sa.KIND.name} IN ({kinds})"]
    for key, value in ((sa.KIND, kind), (sa.STATUS, status), (sa.PAYER, payer)):
        if value:
            if not value.replace("_", "").isalnum():
                raise InputRefused(f"{key.name}: '{value}' is not a valid value")
            clauses.append(f"{key.name} = '{value}'")
    if overdue:
        clauses.append(f"{sa.OVERDUE.name} = true")
    if stalled:
        clauses.append(f"{sa.STALLED.name} = true")
    if level:
        clauses.append(f"{sa.LADDER_LEVEL.name} = {int(level)}")
    return " AND ".join(clauses)


async def list_escalations(client: Client, query: str) -> list[dict[str, Any]]:
    rows = []
    async for wf in client.list_workflows(query):
        attrs = wf.typed_search_attributes
        deadline = attrs.get(sa.NEXT_DEADLINE)
        rows.append(
            {
                "id": wf.id,
                "kind": attrs.get(sa.KIND),
                "status": attrs.get(sa.STATUS),
                "payer": attrs.get(sa.PAYER),
                "level": attrs.get(sa.LADDER_LEVEL),
                "overdue": attrs.get(sa.OVERDUE),
                "stalled": attrs.get(sa.STALLED),
                "holder": attrs.get(sa.BALL_HOLDER),
                "next_deadline": deadline.isoformat() if deadline else None,
                "started": wf.start_time.isoformat(),
            }
        )
    return rows


async def report_figures(client: Client, payer: str | None, start: date | None, end: date | None) -> list[ClaimFigures]:
    """Every unfunded claim to `payer` (all payers if None) whose period overlaps [start, end]."""
    figures = []
    query = list_query(CLAIM_KIND, None, False, payer=payer) + " AND ExecutionStatus != 'Terminated'"
    for row in await list_escalations(client, query):
        try:
            view = await client.get_workflow_handle(row["id"]).query(
                EscalationWorkflow.summary, rpc_timeout=timedelta(seconds=10)
            )
        except RPCError:  # no worker can answer for it now: left out rather than holding the report up
            continue
        claim = ClaimRequest.model_validate(view.case["claim"])
        if in_period(claim, start, end):
            figures.append(ClaimFigures(claim, view.case.get("agreed_pence") or 0, view.case.get("paid_pence") or 0))
    return figures


async def settle_held_email(
    client: Client, delivery: SmtpDelivery, audit: AuditLog, held: SentEmail, send: bool, by: str
) -> str:
    """Ops' decision on a held email: send it now, or record that it arrived. A running escalation
    carries the decision out itself, so its audit log stays in its own order ("queued"); a finished
    one's is carried out here and written after its last step ("sent", "held", "confirmed", "not_held")."""
    decision = SettleHeldEmail(message_id=held.message_id, send=send, by=by)
    try:
        await client.get_workflow_handle(held.escalation_id).signal(EscalationWorkflow.settle_held_email, decision)
        return "queued"
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # not found: the escalation has finished
            raise
    settled = await delivery.settle(held.message_id, send)
    event = HELD_EMAIL_EVENTS.get(settled)
    if event is not None:
        audit.append_next(held.escalation_id, datetime.now(UTC), event, by, {"message_id": held.message_id})
    return settled
