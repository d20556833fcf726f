"""The console for signed-in officers and ops staff: a dashboard of escalations filtered by search
attributes, and each escalation's state, deadlines, audit timeline and emails."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from email import message_from_string, policy
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.service import RPCError

import escalations
from domain.contacts import Role
from domain.money import format_pence
from domain.report import unfunded_work_report
from domain.working_days import describe_deadline, working_days_left
from mail.delivery import SmtpDelivery
from persistence.audit_log import AuditLog
from persistence.sent_mail import MailStatus, SentMailLedger
from persistence.users import ROLES, Users
from settings import Settings
from web.auth import SessionSigner, SignedIn
from web.forms import FormRefused, response_from_form
from workflows.escalation_workflow import ResendRequest

SETTLED_NOTICES = {
    "queued": "Decision passed to the escalation; it is carried out and audited in a moment (reload to see).",
    "sent": "Sent, and written to the audit log.",
    "held": "The send was cut off again; the email is still held.",
    "confirmed": "Recorded as arrived, and written to the audit log.",
    "not_held": "That email was no longer held: someone had decided already.",
}
FILTERS = ("kind", "status", "payer", "overdue", "stalled", "level")


def console_routes(
    settings: Settings, signer: SessionSigner, templates: Jinja2Templates, engine: Engine
) -> list[Route]:
    audit = AuditLog(engine)
    ledger = SentMailLedger(engine)
    delivery = SmtpDelivery(settings, ledger)
    users = Users(engine)

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
        ops = who.role in ("ops", "admin")
        ledger.hold_stale_claims()
        failing = await trouble(request.app.state.client, rows) if ops else []
        context = {
            "who": who,
            "rows": rows,
            "chosen": chosen,
            "error": error,
            "kinds": escalations.TOP_LEVEL_KINDS,
            "failing": failing,
            "held": ledger.held() if ops else [],
        }
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
        ledger.hold_stale_claims()
        emails, held = [], []
        for sent in ledger.for_escalation(escalation_id):
            if sent.status == MailStatus.HELD:
                held.append(sent)
            message = message_from_string(sent.raw, policy=policy.default) if sent.raw else None
            html = message.get_body(("html",)) if message is not None else None  # type: ignore[attr-defined]
            emails.append({"sent": sent, "html": html.get_content() if html is not None else ""})
        context = {
            "who": who,
            "view": view,
            "csrf": signer.csrf_for(request),
            "fields": view.action_fields,
            "labels": view.action_labels,
            "done": request.query_params.get("done"),
            "deadline": deadline,
            "timeline": audit.timeline(escalation_id),
            "chain": audit.verify(escalation_id),
            "emails": emails,
            "held": held,
            "settled": SETTLED_NOTICES.get(request.query_params.get("settled", "")),
            "temporal_url": f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{escalation_id}",
        }
        page = templates.TemplateResponse(request, "escalation.html", context)
        signer.set_csrf(page, str(context["csrf"]))
        return page

    async def posted_by(
        request: Request, roles: tuple[str, ...], rule: str
    ) -> tuple[SignedIn, dict[str, str]] | Response:
        """A console form's sender and fields, or the refusal: not signed in, no CSRF token, wrong role."""
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not signer.csrf_ok(request, form.get("csrf", "")):
            return refuse(request, "The form expired; reload the page and try again.", 403)
        if who.role not in roles:
            return refuse(request, f"{who.email} is signed in as {who.role}; {rule}.", 403)
        return who, form

    async def act(request: Request) -> Response:
        """An officer's action from the console: officers and admins only, with the form's CSRF token."""
        checked = await posted_by(request, ("officer", "admin"), "officers act on escalations")
        if isinstance(checked, Response):
            return checked
        who, form = checked
        escalation_id = request.path_params["escalation_id"]
        view = await escalations.summary(request.app.state.client, escalation_id)
        fields = view.action_fields.get(form.get("action", ""), [])
        try:
            response = response_from_form(form, fields, who.email, Role.OFFICER)
            outcome = await escalations.respond(request.app.state.client, escalation_id, response)
        except FormRefused as bad:
            return refuse(request, str(bad), 422)
        except escalations.InputRefused as refused:
            return refuse(request, str(refused), 409)
        return RedirectResponse(f"/console/e/{escalation_id}?done={outcome.status}", status_code=303)

    async def terminate(request: Request) -> Response:
        """Ops stop an escalation for good, with a reason written to the audit log."""
        checked = await posted_by(request, ("ops", "admin"), "only ops staff terminate")
        if isinstance(checked, Response):
            return checked
        who, form = checked
        reason = form.get("reason", "").strip()
        if not reason:
            return refuse(request, "reason: say why the escalation is being terminated.", 422)
        escalation_id = request.path_params["escalation_id"]
        handle = request.app.state.client.get_workflow_handle(escalation_id)
        if form.get("how") == "cancel":  # the workflow is asked to stop; terminate stops it outright
            await handle.cancel()
            event = "cancelled"
        else:
            await handle.terminate(reason=f"{who.email}: {reason}")
            event = "terminated"
        audit.append_next(escalation_id, datetime.now(UTC), event, who.email, {"reason": reason})
        return RedirectResponse(f"/console/e/{escalation_id}", status_code=303)

    async def report(request: Request) -> Response:
        """Counts and money by provider and category for a period and payer, as a page or a CSV."""
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        params = request.query_params
        try:
            start = date.fromisoformat(params["from"]) if params.get("from") else None
            end = date.fromisoformat(params["to"]) if params.get("to") else None
        except ValueError:
            return refuse(request, "from, to: dates as YYYY-MM-DD", 422)
        try:
            figures = await escalations.report_figures(
                request.app.state.client, params.get("payer") or None, start, end
            )
        except escalations.InputRefused as bad:
            return refuse(request, str(bad), 422)
        rows = unfunded_work_report(figures)
        if request.url.path.endswith(".csv"):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["provider", "category", "items", "claimed_pence", "agreed_pence", "paid_pence"])
            for r in rows:
                writer.writerow([r.provider, r.category, r.items, r.claimed_pence, r.agreed_pence, r.paid_pence])
            return Response(
                out.getvalue(),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="unfunded-work.csv"'},
            )
        total_items = sum(r.items for r in rows) or 1
        widest = max((r.claimed_pence for r in rows), default=1) or 1
        context = {
            "who": who,
            "rows": rows,
            "params": dict(params),
            "claims": len(figures),
            "format_pence": format_pence,
            "share": lambda r: round(100 * r.items / total_items),
            "bar": lambda r: round(400 * r.claimed_pence / widest),
            "totals": {
                k: sum(getattr(r, k) for r in rows) for k in ("items", "claimed_pence", "agreed_pence", "paid_pence")
            },
            "query": request.url.query,
        }
        return templates.TemplateResponse(request, "report.html", context)

    async def resend(request: Request) -> Response:
        """Ops send the escalation's latest email again; the request is audited by the workflow."""
        checked = await posted_by(request, ("ops", "admin"), "only ops staff resend")
        if isinstance(checked, Response):
            return checked
        who, form = checked
        escalation_id = request.path_params["escalation_id"]
        reason = form.get("reason", "").strip() or "resent by ops"
        await request.app.state.client.get_workflow_handle(escalation_id).signal(
            "resend", ResendRequest(by=who.email, reason=reason)
        )
        return RedirectResponse(f"/console/e/{escalation_id}", status_code=303)

    async def settle_held(request: Request) -> Response:
        """Ops decide about a held email: send it, or record that it arrived."""
        checked = await posted_by(request, ("ops", "admin"), "only ops staff decide about held emails")
        if isinstance(checked, Response):
            return checked
        who, form = checked
        escalation_id = request.path_params["escalation_id"]
        held = ledger.get(form.get("message_id", ""))
        if held is None or held.escalation_id != escalation_id:
            return refuse(request, "message_id: no such email in this escalation.", 422)
        if form.get("decision") not in ("send", "arrived"):
            return refuse(request, "decision: choose send or arrived.", 422)
        settled = await escalations.settle_held_email(
            request.app.state.client, delivery, audit, held, form["decision"] == "send", who.email
        )
        return RedirectResponse(f"/console/e/{escalation_id}?settled={settled}", status_code=303)

    async def trouble(client: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Activities that are failing and being retried, for ops to see at a glance."""
        found = []
        for row in rows[:100]:
            if row["status"] in ("closed", "paid", "withdrawn", "commissioned", "settled", "closed_by_officer"):
                continue
            described = await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=client.namespace, execution=WorkflowExecution(workflow_id=row["id"])
                )
            )
            for pending in described.pending_activities:
                if pending.attempt > 1:
                    found.append(
                        {
                            "id": row["id"],
                            "activity": pending.activity_type.name,
                            "attempt": pending.attempt,
                            "failure": pending.last_failure.message[:300],
                        }
                    )
        return found

    async def users_page(request: Request) -> Response:
        """Admins create accounts, reset passwords and disable accounts."""
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", status_code=303)
        if who.role != "admin":
            return refuse(request, f"{who.email} is signed in as {who.role}; only admins manage accounts.", 403)
        message, status = None, 200
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.form()).items()}
            if not signer.csrf_ok(request, form.get("csrf", "")):
                return refuse(request, "The form expired; reload the page and try again.", 403)
            try:
                if form.get("disable"):
                    users.set_disabled(form["disable"], True)
                    message = f"{form['disable']} can no longer sign in."
                else:
                    users.add(form.get("email", ""), form.get("role", ""), form.get("password", ""))
                    message = f"{form.get('email')} can sign in as {form.get('role')}."
            except ValueError as err:
                message, status = str(err), 422
        token = signer.csrf_for(request)
        context = {"who": who, "accounts": users.all(), "message": message, "csrf": token, "roles": ROLES}
        page = templates.TemplateResponse(request, "users.html", context, status_code=status)
        signer.set_csrf(page, token)
        return page

    def refuse(request: Request, message: str, status: int) -> Response:
        return templates.TemplateResponse(request, "refused.html", {"message": message}, status_code=status)

    return [
        Route("/console", dashboard),
        Route("/console/e/{escalation_id}", escalation),
        Route("/console/e/{escalation_id}/act", act, methods=["POST"]),
        Route("/console/e/{escalation_id}/terminate", terminate, methods=["POST"]),
        Route("/console/e/{escalation_id}/resend", resend, methods=["POST"]),
        Route("/console/e/{escalation_id}/held", settle_held, methods=["POST"]),
        Route("/console/report", report),
        Route("/console/users", users_page, methods=["GET", "POST"]),
        Route("/console/report.csv", report),
    ]
