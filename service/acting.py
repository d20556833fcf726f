"""Acting on an escalation: a person's response (an update the workflow validates before it touches
history), and ops' resend and stop. Every refusal comes back as `Refused`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain import wording
from domain.form_response import FormResponse, form_digest
from domain.responses import ResponseInput, ResponseOutcome, digest_of
from persistence.audit_log import AuditLog
from service import reading
from service.gate import OpsReason, admit
from service.refusals import Refused, Why, temporal_refusals
from workflows.escalation_workflow import CaseView, EscalationWorkflow, ResendRequest, Responded
from workflows.incident_workflow import incident_family

FAMILY_QUERY_TIMEOUT = timedelta(seconds=5)


async def respond(
    client: Client, escalation_id: str, response: ResponseInput, submission_id: str | None = None
) -> ResponseOutcome:
    """Send a response as a Temporal update; a refused one raises `Refused` with the reason.

    `submission_id` is the one-time id the person's form carried (validated by the web's gate). It
    becomes the update's id, so the same submission sent again (a double click, a retry after a
    timeout) is applied once: Temporal answers a completed update id with its first outcome and
    does not run the update again. Without one, the update gets a fresh id of its own (as before)."""
    update_id = f"{escalation_id}:{submission_id}" if submission_id else None
    with temporal_refusals(escalation_id):
        outcome = await client.get_workflow_handle(escalation_id).execute_update(
            EscalationWorkflow.respond, response, id=update_id
        )
    if outcome.response_digest not in (None, digest_of(response)):
        raise SentBefore()
    return outcome


async def respond_to_form(
    client: Client, escalation_id: str, form: FormResponse, submission_id: str
) -> tuple[ResponseOutcome, CaseView | None]:
    """A link page's form, sent as typed in one update the workflow reads by the case's field specs and refuses
    with each field named (`Refused`), answered with the outcome and the case as it now stands: one round trip.

    Exactly once as `respond`: the form's `submission_id` is the update's id. A submission recorded before
    this update existed (as `respond`) is answered with its first outcome alone; the view is then None."""
    with temporal_refusals(escalation_id):
        answer = await client.get_workflow_handle(escalation_id).execute_update(
            "respond_to_form", form, id=f"{escalation_id}:{submission_id}", result_type=dict
        )
    if "outcome" in answer:
        responded = Responded.model_validate(answer)
        if responded.form_digest not in (None, form_digest(form.form)):
            raise SentBefore()
        return responded.outcome, responded.view
    return ResponseOutcome.model_validate(answer), None


class SentBefore(Refused):
    """The form's submission was recorded already, with other values: a page changed after the Back button and
    sent again. What was recorded stands; these values were not."""

    def __init__(self) -> None:
        super().__init__(
            Why.NOT_OPEN,
            "This form had already been sent, with other values, and those were recorded, not these. What is "
            "recorded now is on the escalation's page; to change it, send the form again from there.",
        )


async def resend_latest_email(
    client: Client, escalation_id: str, by: str, reason: str, submission_id: str | None = None
) -> None:
    """Ops ask for the latest email again; the workflow audits the request in its own order. With the
    form's one-time `submission_id`, the workflow resends once however often the form is sent."""
    why = admit(OpsReason, {"reason": reason or "resent by ops"})
    with temporal_refusals(escalation_id):
        await client.get_workflow_handle(escalation_id).signal(
            EscalationWorkflow.resend, ResendRequest(by=by, reason=why.reason, submission=submission_id)
        )


async def stop(
    client: Client,
    audit: AuditLog,
    escalation_id: str,
    by: str,
    reason: str,
    cancel: bool,
    submission_id: str | None = None,
) -> str:
    """Ops stop an escalation: cancel asks the workflow to stop; terminate stops it outright. The
    reason is audited after the escalation's last step. With the form's one-time `submission_id`, the
    same form sent again (after a timeout, say) is answered as the first and audited once."""
    why = admit(OpsReason, {"reason": reason})
    event = "cancelled" if cancel else "terminated"
    if submission_id is not None and any(
        row.event == event and row.detail.get("submission") == submission_id for row in audit.timeline(escalation_id)
    ):
        return event
    handle = client.get_workflow_handle(escalation_id)
    cohorts, requests = await _family_of(client, escalation_id)  # refuses one that is closed or stopped already
    reason_given = f"{by}: {why.reason}"
    with temporal_refusals(escalation_id):
        if cancel:
            await handle.cancel()
        else:
            await handle.terminate(reason=reason_given)
    detail: dict[str, object] = {"reason": why.reason, **({"submission": submission_id} if submission_id else {})}
    if cohorts or requests:  # an incident: how many of its cohorts (each with its practices) and requests ran
        detail["cohorts_stopped"] = await _stop_each(client, cohorts, cancel, reason_given)
        detail["requests_stopped"] = await _stop_each(client, requests, cancel, reason_given)
    audit.append_next(escalation_id, datetime.now(UTC), event, by, detail)
    return event


async def _family_of(client: Client, escalation_id: str) -> tuple[list[str], list[str]]:
    """The workflows an incident started that would outlive it (`IncidentWorkflow`: its cohorts, whose practices
    stop with them, and its payers' requests, abandoned on close so it may continue as new); none for other
    kinds. Asked of the running case; if it cannot answer, the escalation is stopped alone, and ops are told."""
    try:
        view = await reading.summary(client, escalation_id, timeout=FAMILY_QUERY_TIMEOUT)
    except Refused as refused:
        if refused.why is not Why.UNAVAILABLE:
            raise  # not found, or finished
        structlog.get_logger().warning("stop_without_family", escalation_id=escalation_id)
        return [], []
    if view.outcome is not None:  # stopping it again would audit a stop that stopped nothing
        raise Refused(
            Why.CLOSED, f"{escalation_id} is closed ({wording.outcome(view.outcome)}); there is nothing to stop."
        )
    return incident_family(escalation_id, view.case)


async def _stop_each(client: Client, family: list[str], cancel: bool, reason: str) -> int:
    """Stop each of `family` that is still running, as the escalation was stopped; how many were."""

    async def one(workflow_id: str) -> bool:
        handle = client.get_workflow_handle(workflow_id)
        try:
            await (handle.cancel() if cancel else handle.terminate(reason=reason))
        except RPCError as err:  # finished already, or never started (a cohort after an early close)
            if err.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    return sum(await asyncio.gather(*(one(w) for w in family)))
