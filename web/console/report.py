"""The work report: counts and money by provider and category for a period and payer, from every
kind's own report lines, as a page or a CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.money import format_pence
from domain.report import work_report
from service import reading
from service.gate import Keyword, admit
from web.console.guard import Console
from web.templating import templates


class ReportPeriod(BaseModel):
    start: date | None = None
    end: date | None = None
    payer: Keyword | None = None  # goes into a visibility query


def routes(console: Console) -> list[Route]:
    async def report(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        params = request.query_params
        period = admit(
            ReportPeriod,
            {
                "start": params.get("from") or None,
                "end": params.get("to") or None,
                "payer": params.get("payer") or None,
            },
            renamed={"start": "from", "end": "to"},
        )
        found = await reading.report_lines(request.app.state.client, period.payer, period.start, period.end)
        rows = work_report([line for lines in found.values() for line in lines])
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
            "claims": len(found),
            "format_pence": format_pence,
            "share": lambda r: round(100 * r.items / total_items),
            "bar": lambda r: round(400 * r.claimed_pence / widest),
            "totals": {
                k: sum(getattr(r, k) for r in rows) for k in ("items", "claimed_pence", "agreed_pence", "paid_pence")
            },
            "query": request.url.query,
        }
        return templates.TemplateResponse(request, "report.html", context)

    return [Route("/console/report", report), Route("/console/report.csv", report)]
