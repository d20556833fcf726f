"""The report: every kind's own report lines for a chosen period (and ICB or trust), as escalations, items and
money claimed, agreed and paid by category, provider, ICB and month; the Kent-style share of items by
category; a chart per breakdown with axes in pounds; a CSV in pounds headed by its period; printable."""

from __future__ import annotations

import csv
import io
from datetime import date

from pydantic import BaseModel, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.money import format_pence
from domain.report_breakdown import BREAKDOWNS, grouped, item_shares
from domain.validation import not_before
from domain.working_days import describe_date
from service import reading
from service.gate import Keyword, admit
from service.refusals import Refused, Why
from web.console.charts import bar_chart
from web.console.guard import Console
from web.templating import templates


class ReportPeriod(BaseModel):
    start: date | None = None
    end: date | None = None
    payer: Keyword | None = None  # goes into a visibility query

    _in_order = field_validator("end")(not_before("start", "the end of the period must not be before its start"))


def _pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def period_words(period: ReportPeriod) -> str:
    start = describe_date(period.start) if period.start else "the first escalation"
    end = describe_date(period.end) if period.end else "today"
    return f"{start} to {end}"


def routes(console: Console) -> list[Route]:
    names = {org.code.upper(): org.name for org in console.settings.escalation_config().organisations}

    async def report(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        params = request.query_params
        errors: dict[str, str] = {}
        try:
            period = admit(
                ReportPeriod,
                {
                    "start": params.get("from") or None,
                    "end": params.get("to") or None,
                    "payer": params.get("payer") or None,
                },
                renamed={"start": "from", "end": "to"},
            )
        except Refused as refused:
            if refused.why is not Why.INVALID:
                raise
            if request.url.path.endswith(".csv"):  # no all-time file for a slip: refused, its boxes as labelled
                raise refused.renamed({"from": "From", "to": "To", "payer": "ICB or trust"}) from None
            errors, period = refused.fields, ReportPeriod()
        entries = await reading.report_entries(request.app.state.client, period.payer, period.start, period.end)
        breakdowns = {by: grouped(entries, by) for by in BREAKDOWNS}
        shares = item_shares(breakdowns["category"])
        payer = names.get((period.payer or "").upper(), period.payer) if period.payer else "every ICB and trust"
        heading = f"Report for {period_words(period)}; {payer}"
        if request.url.path.endswith(".csv"):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow([heading])
            writer.writerow(
                ["Breakdown", "Group", "Escalations", "Items", "Share of items (%)",
                 "Claimed (GBP)", "Agreed (GBP)", "Paid (GBP)"]
            )  # fmt: skip
            for by, groups in breakdowns.items():
                for g in groups:
                    writer.writerow(
                        [BREAKDOWNS[by], g.label, len(g.escalations), g.items,
                         shares.get(g.key, "") if by == "category" else "",
                         _pounds(g.claimed_pence), _pounds(g.agreed_pence), _pounds(g.paid_pence)]
                    )  # fmt: skip
            stamp = f"{period.start or 'start'}-to-{period.end or 'today'}"
            return Response(
                out.getvalue(),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="report-{stamp}.csv"'},
            )
        context = {
            "who": who,
            "heading": heading,
            "params": dict(params),
            "errors": errors,
            "escalations": len({e.escalation_id for e in entries}),
            "kinds": sorted({e.line.kind.replace("_", " ") for e in entries}),
            "breakdowns": breakdowns,
            "titles": BREAKDOWNS,
            "charts": {by: bar_chart(groups, BREAKDOWNS[by]) for by, groups in breakdowns.items() if groups},
            "shares": shares,
            "format_pence": format_pence,
            "totals": {
                k: sum(getattr(e.line, k) for e in entries)
                for k in ("items", "claimed_pence", "agreed_pence", "paid_pence")
            },
            "query": request.url.query,
        }
        return templates.TemplateResponse(request, "report.html", context, status_code=422 if errors else 200)

    return [Route("/console/report", report), Route("/console/report.csv", report)]
