"""One escalation's page: state, deadline, the actions open to an officer, the audit timeline
with its hash chain checked, every email as sent, held emails first."""

from __future__ import annotations

from email import message_from_string, policy
from urllib.parse import quote

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain.contacts import Lmc, Role
from domain.money import format_pence
from persistence.audit_log import AuditLog
from persistence.sent_mail import SentMailLedger
from service import reading
from web.console import timeline
from web.console.guard import OFFICERS, Console, Who
from web.templating import templates

SETTLED_NOTICES = {
    "queued": "Decision passed to the escalation; it is carried out and audited in a moment (reload to see).",
    "sent": "Sent, and written to the audit log.",
    "held": "The send was cut off again; the email is still held.",
    "confirmed": "Recorded as arrived, and written to the audit log.",
    "not_held": "That email is not held now (it was sent, is being sent, or someone decided already): nothing was changed.",
}


REPLACED_NOTICE = "The new contact takes over: later emails go to them, with links of their own (see the timeline)."
WITHDRAWN_NOTICES = {
    "done": "Those links no longer work; the withdrawal is in the security log.",
    "already": "Those links had been withdrawn already.",
}


ERROR_PREFIXES = {"stop": "stop-", "withdraw-links": "withdraw-", "replace-contact": "replace-", "resend": "resend-"}
"""Each console form's field ids begin with its prefix (an officer's action: the action's name and '-')."""
DESTRUCTIVE_ACTIONS = frozenset({"withdraw", "close_incident"})
"""Officer actions that end an escalation: each asks for a confirmation beside its reason."""


async def render(
    console: Console,
    request: Request,
    who: Who,
    escalation_id: str,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    form_name: str | None = None,
    status: int = 200,
) -> Response:
    """The page; after a refused form, that form comes back with each error beside its field and everything
    typed in it (`form_name` says which form, `typed` what was in it)."""
    audit = AuditLog(console.engine)
    ledger = SentMailLedger(console.engine)
    settings = console.settings
    view = await reading.summary(request.app.state.client, escalation_id)
    view = view.read_by(Role.OFFICER)  # staff read whose return it is
    rows, chain = audit.timeline(escalation_id), audit.verify(escalation_id)
    emails, held = [], []
    for sent in ledger.for_escalation(escalation_id):
        if ledger.is_held(sent):  # a stale claim shows as held; it is held in fact when ops decide (a POST)
            held.append(sent)
        message = message_from_string(sent.raw, policy=policy.default) if sent.raw else None
        html = message.get_body(("html",)) if message is not None else None  # type: ignore[attr-defined]
        emails.append({"sent": sent, "html": html.get_content() if html is not None else ""})
    context = {
        "who": who,
        "view": view,
        "csrf": console.signer.csrf_for(request),
        "acts": acts_as_officer(who, view.case),
        "fields": view.action_fields,
        "labels": view.action_labels,
        "destructive": DESTRUCTIVE_ACTIONS,
        "errors": errors or {},
        "typed": typed or {},
        "form_name": form_name,
        "error_prefix": ERROR_PREFIXES.get(form_name or "", (form_name or "").removeprefix("act-") + "-"),
        # Only the status the escalation is in: a link crafted with any other text says nothing, never something false.
        "done": view.status if request.query_params.get("done") == view.status else None,
        "timeline": timeline.entries(rows, chain),
        "deadlines": timeline.deadlines(rows, {} if view.outcome else view.case),  # a closed case awaits nothing
        "chain": chain,
        "emails": emails,
        "held": held,
        "settled": SETTLED_NOTICES.get(request.query_params.get("settled", ""))
        or WITHDRAWN_NOTICES.get(request.query_params.get("withdrawn", ""))
        or (REPLACED_NOTICE if request.query_params.get("replaced") else None),
        "format_pence": format_pence,
        "temporal_url": f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{escalation_id}",
    }
    return templates.TemplateResponse(request, "escalation.html", context, status_code=status)


def acts_as_officer(who: Who, case: object) -> bool:
    """Whether the signed-in account can take the escalation's officer actions: an officer's or admin's account
    that is one of the case's LMC officers, as the workflow requires. The forms are shown to those alone, where
    an account of another address had them offered, filled in, and refused."""
    if who.role not in OFFICERS:
        return False
    try:
        lmc = Lmc.model_validate(case.get("lmc") if isinstance(case, dict) else None)
    except ValidationError:  # a case that does not carry its LMC: the workflow decides
        return True
    return lmc.officer(who.email) is not None


def routes(console: Console) -> list[Route]:
    async def escalation(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        typed = request.path_params["escalation_id"]
        reference = typed.strip().upper()  # every reference the engine issues is upper case
        if reference != typed and reference.isascii() and reference.isprintable():
            return RedirectResponse(f"/console/e/{quote(reference)}", status_code=301)
        return await render(console, request, who, typed)

    return [Route("/console/e/{escalation_id}", escalation)]
