"""Interface alerts in the console: the officer's pattern view (alerts by provider, category and month with
the items and staff time they represent, flagged at the configured threshold), starting an unfunded work
claim from a selection of alerts in one action, and the Kent-style analysis for a period (page and CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, field_validator
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain.alert_analysis import hours, month_words, patterns, shares
from domain.configuration import EscalationConfig
from domain.interface_alert import CATEGORY_LABELS
from domain.unfunded_claim import Category
from domain.validation import not_before
from service import alerts
from service.gate import Keyword, admit
from service.refusals import Refused, Why
from web.console.guard import OFFICERS, Console
from web.templating import templates

ANALYSIS_KEYS = ("category", "provider", "ods", "month")


class AlertPeriod(BaseModel):
    start: date
    end: date
    provider: Keyword | None = None

    _in_order = field_validator("end")(not_before("start", "the end of the period is before its start"))


def period_of(request: Request) -> AlertPeriod:
    """The analysis's period and provider; refused with each box named as the page labels it."""
    params = request.query_params
    today = datetime.now(UTC).date()
    return admit(
        AlertPeriod,
        {
            "start": params.get("from") or (today - timedelta(days=365)).isoformat(),
            "end": params.get("to") or (today + timedelta(days=365)).isoformat(),
            "provider": params.get("provider") or None,
        },
        renamed={"start": "From", "end": "To", "provider": "Provider code"},
    )


def category_name(value: str) -> str:
    try:
        return CATEGORY_LABELS[Category(value)]
    except ValueError:
        return value


def alert_label(config: EscalationConfig) -> Callable[[str, str], str]:
    """How an analysis table names its rows: a category in words, a provider by name, a month in words."""
    names = {o.code: o.name for o in config.organisations}

    def label(key: str, value: str) -> str:
        if key == "category":
            return category_name(value)
        return month_words(value) if key == "month" else names.get(value, value)

    return label


def routes(console: Console) -> list[Route]:
    settings, engine = console.settings, console.engine

    async def pattern_view(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        try:
            period = period_of(request)
        except Refused as refused:  # the page again, the problem said above its filters: not a bare refusal page
            if refused.why is not Why.INVALID:
                raise
            period = admit(AlertPeriod, {"start": date.today() - timedelta(days=365), "end": date.today()})
            shown = "Showing the last year instead."
            return view(
                request, who, period, refused.message, refused.http_status, f"Those filters were refused. {shown}"
            )
        return view(request, who, period)

    def view(
        request: Request,
        who: object,
        period: AlertPeriod,
        error: str | None = None,
        status: int = 200,
        heading: str = "No claim started.",
    ) -> Response:
        threshold = alerts.pattern_threshold(settings)
        found = patterns(alerts.figures(engine, period.start, period.end, period.provider), threshold)
        config = settings.escalation_config()
        context = {
            "who": who,
            "patterns": found,
            "threshold": threshold,
            "params": dict(request.query_params),
            "csrf": console.signer.csrf_for(request),
            "icbs": [o for o in config.organisations if o.kind == "icb"],
            "names": {o.code: o.name for o in config.organisations},
            "category_name": category_name,
            "hours": hours,
            "month_words": month_words,
            "error": error,
            "error_heading": heading,
        }
        return templates.TemplateResponse(request, "alerts/patterns.html", context, status_code=status)

    async def claim(request: Request) -> Response:
        who, form = await console.posted_by(request, OFFICERS, "officers start claims")
        chosen = [name.removeprefix("alert.") for name in form if name.startswith("alert.")]
        try:
            claim_ref = await alerts.start_claim(
                request.app.state.client, settings, engine, chosen, who.email, form.get("payer_code", "")
            )
        except Refused as refused:
            if not refused.fields:
                raise
            period = period_of(request)
            return view(request, who, period, refused.message, refused.http_status)
        return RedirectResponse(f"/console/e/{claim_ref}", status_code=303)

    async def analysis(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        period = period_of(request)
        found = alerts.figures(engine, period.start, period.end, period.provider)
        tables = {key: shares(found, key) for key in ANALYSIS_KEYS}
        if request.url.path.endswith(".csv"):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["by", "key", "alerts", "items", "share_percent", "staff_minutes"])
            for key, rows in tables.items():
                for row in rows:
                    writer.writerow([key, row.key, row.alerts, row.items, row.percent, row.staff_minutes])
            return Response(
                out.getvalue(),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="interface-alerts.csv"'},
            )
        context = {
            "who": who,
            "tables": tables,
            "alerts": len(found),
            "items": sum(a.items for a in found),
            "minutes": sum(a.staff_minutes for a in found),
            "hours": hours,
            "params": dict(request.query_params),
            "query": request.url.query,
            "label": alert_label(settings.escalation_config()),
        }
        return templates.TemplateResponse(request, "alerts/analysis.html", context)

    return [
        Route("/console/alerts", pattern_view),
        Route("/console/alerts/claim", claim, methods=["POST"]),
        Route("/console/alerts/analysis", analysis),
        Route("/console/alerts/analysis.csv", analysis),
    ]
