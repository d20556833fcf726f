"""What people do from an escalation's page: an officer's action; ops' resend, stop, and decision
on a held email. Each is checked on the server (signed in, CSRF token, role) and refused through
the one refusal map."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain import wording
from domain.contacts import Role
from mail.delivery import SmtpDelivery
from persistence.audit_log import AuditLog
from persistence.sent_mail import SentMailLedger
from service import acting, held_emails, links_admin, reading
from service.gate import OpsReason, admit, refuse_field
from service.refusals import Refused, Why, shown
from web.console import escalation_page
from web.console.guard import OFFICERS, OPS, Console, Who, client_of
from web.console.resubmit import resubmittable
from web.forms import SUBMISSION, plain_line, submission_from_form, submitted

ROLES = {
    "act": OFFICERS, "withdraw_links": OFFICERS, "replace_contact": OFFICERS, "terminate": OPS, "resend": OPS,
}  # fmt: skip
RULES = {
    "act": "officers act on escalations",
    "withdraw_links": "officers withdraw links",
    "replace_contact": "officers change contacts",
    "terminate": "only ops staff terminate",
    "resend": "only ops staff resend",
}
CONFIRM = "confirm"


def confirmed(form: dict[str, str], what: str) -> None:
    """A destructive action goes ahead only with its box ticked: nothing destructive happens by accident."""
    if form.get(CONFIRM) != "yes":
        raise refuse_field(CONFIRM, f"tick the box to confirm that you mean to {what}")


def routes(console: Console) -> list[Route]:
    audit = AuditLog(console.engine)
    ledger = SentMailLedger(console.engine)
    delivery = SmtpDelivery(console.settings, ledger)

    def form_again(
        handler: Callable[[Request, Who, dict[str, str]], Awaitable[Response]], name: Callable[[dict[str, str]], str]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A console form's handler: a refusal naming fields brings the page back with that form as typed and
        each error beside its field (422); any other refusal goes to the one refusal map."""

        async def handle(request: Request) -> Response:
            who, form = await console.posted_by(request, ROLES[handler.__name__], RULES[handler.__name__])
            try:
                return await handler(request, who, form)
            except Refused as refused:
                if refused.why is not Why.INVALID or not refused.fields:
                    raise
                escalation_id = request.path_params["escalation_id"]
                return await escalation_page.render(
                    console, request, who, escalation_id,
                    errors=refused.fields, typed=form, form_name=name(form), status=refused.http_status,
                )  # fmt: skip

        return handle

    async def act(request: Request, who: Who, form: dict[str, str]) -> Response:
        """An officer's action from the console: officers and admins only."""
        escalation_id = request.path_params["escalation_id"]
        view = await reading.summary(request.app.state.client, escalation_id)
        closed = Refused(
            Why.CLOSED, f"{shown(escalation_id)} has finished ({view.outcome}); nothing more can be recorded."
        )
        if view.outcome is not None and SUBMISSION not in form:
            raise closed
        fields = view.action_fields.get(form.get("action", ""), [])
        problems: dict[str, str] = {}  # the confirmation's with the form's, every one at once
        if form.get("action") in escalation_page.DESTRUCTIVE_ACTIONS and view.outcome is None:
            try:
                confirmed(form, view.action_labels.get(form["action"], form["action"]).lower())
            except Refused as refused:
                problems |= refused.fields
        # The form's one-time submission id is the update's id: sent twice, it is recorded once, and the
        # second answer is the first's (even when the first finished the escalation: Temporal keeps it).
        try:
            response, submission = submitted(form, fields, who.email, Role.OFFICER)
        except Refused as refused:
            if view.outcome is not None:
                raise closed from None
            if not refused.fields:
                raise
            raise Refused.invalid({**refused.fields, **problems}) from refused
        if problems:
            raise Refused.invalid(problems)
        outcome = await acting.respond(request.app.state.client, escalation_id, response, submission)
        return RedirectResponse(f"/console/e/{escalation_id}?done={outcome.status}", status_code=303)

    async def terminate(request: Request, who: Who, form: dict[str, str]) -> Response:
        """Ops stop an escalation for good (or ask it to stop), with a reason written to the audit log."""
        escalation_id = request.path_params["escalation_id"]
        problems: dict[str, str] = {}  # every one at once, each beside its field
        if form.get("how") not in ("cancel", "terminate"):  # nothing destructive is preselected
            problems["how"] = "choose whether to cancel the escalation or terminate it"
        try:
            confirmed(form, "stop this escalation")
        except Refused as refused:
            problems |= refused.fields
        try:
            admit(OpsReason, {"reason": form.get("reason", "").strip()})  # the rule `acting.stop` applies
        except Refused as refused:
            problems |= refused.fields
        if problems:
            raise Refused.invalid(problems)
        await acting.stop(
            request.app.state.client,
            audit,
            escalation_id,
            who.email,
            form.get("reason", "").strip(),
            cancel=form.get("how") == "cancel",
            submission_id=submission_from_form(form) if SUBMISSION in form else None,  # sent twice, audited once
        )
        return RedirectResponse(f"/console/e/{escalation_id}?done={wording.STOPPED}", status_code=303)

    async def withdraw_links(request: Request, who: Who, form: dict[str, str]) -> Response:
        """An officer withdraws every link one contact holds for this escalation."""
        escalation_id = request.path_params["escalation_id"]
        confirmed(form, "withdraw every link this contact holds")
        await reading.summary(request.app.state.client, escalation_id)  # refuses unknown escalations
        done = links_admin.withdraw_links(
            console.engine,
            escalation_id,
            who.email,
            form.get("recipient", ""),
            form.get("reason", ""),
            form.get("contact_instead", ""),
            client_of(request),
        )
        return RedirectResponse(
            f"/console/e/{escalation_id}?withdrawn={'done' if done else 'already'}", status_code=303
        )

    async def replace_contact(request: Request, who: Who, form: dict[str, str]) -> Response:
        """An officer names who takes over from one of the payer's contacts."""
        escalation_id = request.path_params["escalation_id"]
        await links_admin.replace_contact(
            request.app.state.client,
            console.engine,
            escalation_id,
            who.email,
            form,
            client_of(request),
            submission_id=submission_from_form(form),  # sent twice, it is carried out once
        )
        return RedirectResponse(f"/console/e/{escalation_id}?replaced=1", status_code=303)

    async def resend(request: Request, who: Who, form: dict[str, str]) -> Response:
        """Ops send the escalation's latest email again; the request is audited by the workflow."""
        escalation_id = request.path_params["escalation_id"]
        await acting.resend_latest_email(
            request.app.state.client,
            escalation_id,
            who.email,
            form.get("reason", "").strip(),
            submission_id=submission_from_form(form) if SUBMISSION in form else None,  # sent twice, resent once
        )
        return RedirectResponse(f"/console/e/{escalation_id}", status_code=303)

    async def settle_held(request: Request) -> Response:
        """Ops decide about a held email: send it, or record that it arrived."""
        who, form = await console.posted_by(request, OPS, "only ops staff decide about held emails")
        escalation_id = request.path_params["escalation_id"]
        message_id = form.get("message_id", "")
        ledger.hold_stale_claims()  # a send whose sender died is held now, so it can be decided about
        held = ledger.get(message_id) if plain_line(message_id, 998) else None
        if held is None or held.escalation_id != escalation_id:
            raise refuse_field("message_id", "no such email in this escalation")
        if not ledger.is_held(held):  # sent, or settled already: nothing to decide, and said so
            return RedirectResponse(f"/console/e/{escalation_id}?settled=not_held", status_code=303)
        if form.get("decision") not in ("send", "arrived"):
            raise refuse_field("decision", "choose send or arrived")
        settled = await held_emails.settle_held_email(
            request.app.state.client, delivery, audit, held, form["decision"] == "send", who.email
        )
        return RedirectResponse(f"/console/e/{escalation_id}?settled={settled}", status_code=303)

    # Each answers the engine being down or slow with its form again, filled in (503, Retry-After).
    return [
        Route(
            "/console/e/{escalation_id}/act",
            resubmittable(form_again(act, lambda f: f"act-{f.get('action', '')}")),
            methods=["POST"],
        ),
        Route(
            "/console/e/{escalation_id}/terminate",
            resubmittable(form_again(terminate, lambda f: "stop")),
            methods=["POST"],
        ),
        Route(
            "/console/e/{escalation_id}/resend", resubmittable(form_again(resend, lambda f: "resend")), methods=["POST"]
        ),
        Route(
            "/console/e/{escalation_id}/withdraw-links",
            resubmittable(form_again(withdraw_links, lambda f: "withdraw-links")),
            methods=["POST"],
        ),
        Route(
            "/console/e/{escalation_id}/replace-contact",
            resubmittable(form_again(replace_contact, lambda f: "replace-contact")),
            methods=["POST"],
        ),
        Route("/console/e/{escalation_id}/held", resubmittable(settle_held), methods=["POST"]),
    ]
