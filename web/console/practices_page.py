"""An incident's practices as one table an officer can filter and export: return status, late flag, counts,
claim, share and payment (under- or over-payment with its difference), each row linking to that practice's
request."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import wording
from domain.money import format_pence
from service import reading
from service.practice_table import PAYMENT_FILTERS, chosen, practice_table, returns_in
from service.refusals import Refused, Why
from web.console.guard import Console
from web.templating import templates
from web.temporal_budget import within_budget


def _pounds(pence: int | None) -> str:
    """Pounds with pence for a spreadsheet: 1234.50; empty when there is nothing."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def routes(console: Console) -> list[Route]:
    async def practices(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        escalation_id = request.path_params["escalation_id"]
        view = await reading.summary(request.app.state.client, escalation_id)
        if "practices" not in view.case or not isinstance(view.case["practices"], list):
            raise Refused(Why.NOT_FOUND, f"{escalation_id} is not an incident with practices.")
        async with within_budget():  # its visibility RPCs held to the request's budget
            lines = await practice_table(request.app.state.client, console.engine, view)
        params = request.query_params
        filters = {
            "q": params.get("q", "").strip()[:100],
            "returned": params.get("returned", "") if params.get("returned") in ("yes", "no") else "",
            "late": "on" if params.get("late") == "on" else "",
            "payment": params.get("payment", "") if params.get("payment") in PAYMENT_FILTERS else "",
        }
        shown = chosen(lines, filters["q"], filters["returned"], bool(filters["late"]), filters["payment"])
        if request.url.path.endswith(".csv"):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([f"Practices of {escalation_id}: {view.title}"])
            writer.writerow(
                ["ODS code", "Practice", "Contact", "Returned", "Late", "Corrections", "Counted", "Items",
                 "Claimed (GBP)", "Share (GBP)", "Received (GBP)", "Payment", "Status", "Request"]
            )  # fmt: skip
            for line in shown:
                writer.writerow(
                    [line.ods, line.name, line.contact, "yes" if line.returned else "no", "yes" if line.late else "no",
                     line.corrections, line.counted, line.items, _pounds(line.claimed_pence),
                     _pounds(line.share_pence), _pounds(line.received_pence), line.payment_words,
                     wording.status(line.status) if line.status else "", line.request_id]
                )  # fmt: skip
            return Response(
                out.getvalue(),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{escalation_id}-practices.csv"'},
            )
        context = {
            "who": who,
            "view": view,
            "lines": shown,
            "returns_in": returns_in(lines),
            "filters": filters,
            "payment_filters": PAYMENT_FILTERS,
            "csv_query": str(request.query_params),
            "format_pence": format_pence,
        }
        return templates.TemplateResponse(request, "practices.html", context)

    return [
        Route("/console/e/{escalation_id}/practices", practices),
        Route("/console/e/{escalation_id}/practices.csv", practices),
    ]
