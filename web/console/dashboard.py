"""The dashboard: escalations searched, filtered, sorted and paged from their search attributes alone
(one visibility query a page, counts beside it; no call per row, no write on a GET); for ops, the emails
held, and failing activities on a page of their own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from itsdangerous import Signer
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.money import format_pence
from kinds import KINDS
from persistence.sent_mail import SentMailLedger
from service import listing, reading
from service.gate import ListFilters, admit
from service.listing import COLUMNS, DEFAULT_SORT, Counts, Page
from service.mail_delay import mail_delay
from service.reading import EscalationRow
from service.refusals import Refused, Why
from web.console.guard import OPS, Console
from web.templating import templates
from web.temporal_budget import rpc_timeout, within_budget

FILTERS = ("q", "kind", "status", "payer", "level")
FLAGS = ("overdue", "stalled", "underpaid", "held", "parts")
FLAG_LABELS = {"overdue": "Overdue", "stalled": "Stalled", "underpaid": "Underpaid", "held": "Emails held"}
HOLDER_LABELS = {"payer": "ICB or trust", "officer": "LMC", "practice": "Practice"}
FINISHED = (
    "closed", "paid", "paid_short", "paid_over", "withdrawn", "commissioned", "settled", "not_agreed",
    "closed_by_officer",
)  # fmt: skip


async def trouble(client: Client, rows: list[EscalationRow]) -> list[dict[str, Any]]:
    """Activities that are failing and being retried, for ops (a describe per open escalation: its own page)."""
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


def _link(chosen: dict[str, str], **changes: str | int | None) -> str:
    """The dashboard's address with `chosen` changed; empty values left out."""
    merged = {**chosen, **{k: ("" if v is None else str(v)) for k, v in changes.items()}}
    return "/console?" + urlencode({k: v for k, v in merged.items() if v})


class PageTokens:
    """Temporal's page tokens as the dashboard's links carry them: signed with the console's key over the query
    they page, so a token that was altered, or moved to another search, reads as the first page rather than
    reaching Temporal (which answers a token it cannot read with an error its client retries for seconds)."""

    def __init__(self, key: bytes) -> None:
        self._signer = Signer(key, salt="console-page-token")

    def seal(self, token: str, query: str) -> str:
        signature = self._signer.get_signature(self._signed(token, query)).decode("ascii")
        return f"{token}.{signature}"

    def open(self, sealed: str, query: str) -> str:
        """The token, or "" (the first page) for anything this console did not sign for `query`."""
        token, _, signature = sealed.rpartition(".")
        return token if self._signer.verify_signature(self._signed(token, query), signature) else ""

    @staticmethod
    def _signed(token: str, query: str) -> str:
        return f"{query}\n{token}"


def routes(console: Console) -> list[Route]:
    ledger = SentMailLedger(console.engine)
    tokens = PageTokens(console.settings.session_key)
    rows_template = templates.env.get_template("dashboard_rows.html")
    names = {org.code.upper(): org.name for org in console.settings.escalation_config().organisations}

    async def rows_html(request: Request) -> tuple[Markup, int]:
        """The search form, counts, rows and paging for the URL's query, and the page's status (422 when a filter
        is refused, named in the form): the same for everyone asking it, so drawn once and shared for a second
        (`listing.shared`) by every officer opening the same view."""
        params = request.query_params
        chosen = {k: params.get(k, "").strip() for k in FILTERS}
        chosen |= {k: "on" if params.get(k) == "on" else "" for k in FLAGS}
        sort = params.get("sort", "") if params.get("sort", "") in COLUMNS else DEFAULT_SORT[0]
        direction = "asc" if params.get("dir") == "asc" else "desc"
        if sort == DEFAULT_SORT[0] and "dir" not in params:
            direction = DEFAULT_SORT[1]
        offset = int(params["at"]) if params.get("at", "").isdigit() else 0
        error: dict[str, str] = {}
        status = 200
        found = Page(rows=[])
        counted = Counts(total=0)
        query = ""
        try:
            filters = admit(
                ListFilters,
                {
                    "kind": chosen["kind"] or None,
                    "status": chosen["status"] or None,
                    "payer": chosen["payer"] or None,
                    "level": chosen["level"] or None,
                    "search": chosen["q"] or None,
                    **{flag: chosen[flag] == "on" for flag in FLAGS},
                },
                renamed={"search": "q"},
            )
            query = reading.list_query(filters)
            async with within_budget():  # raw visibility RPCs: held to the request's budget here
                token = tokens.open(params.get("page", ""), query)
                found = await listing.page(request.app.state.client, query, sort, direction == "desc", token, offset)
                counted = await listing.counts(request.app.state.client, query)
            counted = replace(counted, total=max(counted.total, found.offset + len(found.rows)))  # counts lag
        except Refused as refused:
            if refused.why is not Why.INVALID:
                raise
            error, status = dict(refused.fields), refused.http_status
        kept = {k: "" if k in error else v for k, v in chosen.items()}  # links carry no refused value (once is enough)
        base = {**kept, "sort": sort, "dir": direction}
        context = {
            "rows": found.rows,
            "found": found,
            "counts": counted,
            "chosen": chosen,
            "sort": sort,
            "direction": direction,
            "columns": COLUMNS,
            "error": error,
            "kinds": KINDS,
            "kind_labels": {spec.name: spec.label for spec in KINDS},
            "names": names,
            "flag_labels": FLAG_LABELS,
            "holder_labels": HOLDER_LABELS,
            "format_pence": format_pence,
            "sort_link": lambda column: _link(
                kept, sort=column, dir="asc" if (column == sort and direction == "desc") else "desc"
            ),
            "flag_link": lambda flag: _link(kept, **{flag: "" if chosen[flag] else "on"}),
            "next_link": _link(base, page=tokens.seal(found.next_token, query), at=found.offset + len(found.rows))
            if found.next_token
            else (_link(base, at=found.next_offset) if found.next_offset is not None else None),
            "first_link": _link(base) if (found.offset or params.get("page")) else None,
        }
        return Markup(rows_template.render(context)), status  # noqa: S704 - the template escapes what it shows

    async def dashboard(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        key = ("dashboard", console.settings.temporal_address, request.url.query)
        rows, status = await listing.shared(key, listing.SHARED_FOR_SECONDS, lambda: rows_html(request))
        context = {
            "who": who,
            "kinds": KINDS,
            "rows_html": rows,
            "held": ledger.held_or_stale() if who.role in OPS else [],  # read only: never a write on a GET
            "mail_delay": mail_delay(ledger),
        }
        return templates.TemplateResponse(request, "dashboard.html", context, status_code=status)

    async def failing(request: Request) -> Response:
        """Ops: activities failing and being retried, among the newest open escalations."""
        who = console.who(request)
        if isinstance(who, Response):
            return who
        if who.role not in OPS:
            raise Refused(Why.NOT_PERMITTED, "Only ops staff see failing activities.")
        client = request.app.state.client
        async with within_budget():
            found = await listing.page(client, listing.OPEN, "started", True, "", 0)
        context = {"who": who, "failing": await trouble(client, found.rows)}
        return templates.TemplateResponse(request, "failing.html", context)

    return [Route("/console", dashboard), Route("/console/failing", failing)]
