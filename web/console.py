"""The console for signed-in officers and ops staff: a dashboard of escalations filtered by search
attributes, and each escalation's state, deadlines, audit timeline and emails."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string, policy
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from temporalio.service import RPCError

import escalations
from domain.working_days import describe_deadline, working_days_left
from persistence.audit_log import AuditLog
from persistence.sent_mail import SentMailLedger
from settings import Settings
from web.auth import SessionSigner

FILTERS = ("kind", "status", "payer", "overdue", "stalled", "level")


def console_routes(
    settings: Settings, signer: SessionSigner, templates: Jinja2Templates, engine: Engine
) -> list[Route]:
    audit = AuditLog(engine)
    ledger = SentMailLedger(engine)

    def signed_in(request: Request) -> Any:
        return signer.read(request)

    async def dashboard(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        chosen = {k: request.query_params.get(k, "") for k in FILTERS}
        error = None
        rows: list[dict[str, Any]] = []
        try:
            query = escalations.list_query(
                chosen["kind"] or None,
                chosen["status"] or None,
                chosen["overdue"] == "on",
                chosen["stalled"] == "on",
                chosen["payer"] or None,
                int(chosen["level"]) if chosen["level"].isdigit() else None,
            )
            rows = await escalations.list_escalations(request.app.state.client, query)
        except (escalations.InputRefused, RPCError) as err:
            error = str(err)
        context = {"who": who, "rows": rows, "chosen": chosen, "error": error, "kinds": escalations.TOP_LEVEL_KINDS}
        return templates.TemplateResponse(request, "dashboard.html", context)

    async def escalation(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        escalation_id = request.path_params["escalation_id"]
        try:
            view = await escalations.summary(request.app.state.client, escalation_id)
        except RPCError as err:
            return templates.TemplateResponse(request, "refused.html", {"message": err.message}, status_code=404)
        now = datetime.now(UTC)
        deadline = None
        if view.wait and view.wait.deadline:
            due = datetime.fromisoformat(view.wait.deadline)
            deadline = f"{describe_deadline(due)} ({working_days_left(now, due)} working days left)"
        emails = []
        for sent in ledger.for_escalation(escalation_id):
            message = message_from_string(sent.raw, policy=policy.default) if sent.raw else None
            html = message.get_body(("html",)) if message is not None else None  # type: ignore[attr-defined]
            emails.append({"sent": sent, "html": html.get_content() if html is not None else ""})
        context = {
            "who": who,
            "view": view,
            "deadline": deadline,
            "timeline": audit.timeline(escalation_id),
            "chain": audit.verify(escalation_id),
            "emails": emails,
            "temporal_url": f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{escalation_id}",
        }
        return templates.TemplateResponse(request, "escalation.html", context)

    return [Route("/console", dashboard), Route("/console/e/{escalation_id}", escalation)]
