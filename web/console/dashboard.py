"""The dashboard: escalations filtered by their search attributes; for ops, activities failing
and emails held."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from kinds import KINDS
from persistence.sent_mail import SentMailLedger
from service import reading
from service.gate import ListFilters, admit
from service.mail_delay import mail_delay
from service.reading import EscalationRow
from service.refusals import Refused, Why
from web.console.guard import OPS, Console
from web.templating import templates
from web.temporal_budget import rpc_timeout

FILTERS = ("kind", "status", "payer", "overdue", "stalled", "underpaid", "level")
FINISHED = (
    "closed", "paid", "paid_short", "paid_over", "withdrawn", "commissioned", "settled", "not_agreed",
    "closed_by_officer",
)  # fmt: skip


async def trouble(client: Client, rows: list[EscalationRow]) -> list[dict[str, Any]]:
    """Activities that are failing and being retried, for ops to see at a glance."""
    found = []
    for row in rows[:100]:
        if row.status in FINISHED:
            continue
        try:
            described = await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=client.namespace, execution=WorkflowExecution(workflow_id=row.id)
                ),
                timeout=rpc_timeout(),
            )
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:  # gone since it was listed (retention): nothing failing
                continue
            raise  # unreachable: the refusal map answers 503; anything else is a bug
        for pending in described.pending_activities:
            if pending.attempt > 1:
                found.append(
                    {
                        "id": row.id,
                        "activity": pending.activity_type.name,
                        "attempt": pending.attempt,
                        "failure": pending.last_failure.message[:300],
                    }
                )
    return found


def routes(console: Console) -> list[Route]:
    ledger = SentMailLedger(console.engine)

    async def dashboard(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        chosen = {k: request.query_params.get(k, "") for k in FILTERS}
        error = None
        rows: list[EscalationRow] = []
        try:
            filters = admit(
                ListFilters,
                {
                    "kind": chosen["kind"] or None,
                    "status": chosen["status"] or None,
                    "payer": chosen["payer"] or None,
                    "level": chosen["level"] or None,
                    "overdue": chosen["overdue"] == "on",
                    "stalled": chosen["stalled"] == "on",
                    "underpaid": chosen["underpaid"] == "on",
                },
            )
            rows = await reading.list_escalations(request.app.state.client, reading.list_query(filters))
        except Refused as refused:
            if refused.why is Why.UNAVAILABLE:  # the engine down or slow: 503 with Retry-After, not an empty list
                raise
            error = refused.message
        ops = who.role in OPS
        ledger.hold_stale_claims()
        context = {
            "who": who,
            "rows": rows,
            "chosen": chosen,
            "error": error,
            "kinds": KINDS,
            "failing": await trouble(request.app.state.client, rows) if ops else [],
            "held": ledger.held() if ops else [],
            "mail_delay": mail_delay(ledger),
        }
        return templates.TemplateResponse(request, "dashboard.html", context)

    return [Route("/console", dashboard)]
