"""The liaison meeting pack in the console: choose an ICB and the meeting's date, read the pack
(printable: the page's print styles leave only the pack), download it as a Word document to send
ahead. Signed-in staff read it, as they read every escalation."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain.alert_analysis import hours
from domain.working_days import describe_date
from persistence.audit_log import AuditLog
from persistence.meetings import Meetings
from service import alerts, meeting_outcomes, meeting_pack
from service.gate import admit
from service.meeting_pack import MeetingPack
from service.refusals import Refused
from web.auth import Who
from web.console.alerts import alert_label
from web.console.guard import OFFICERS, Console
from web.console.meeting_docx import pack_docx
from web.forms import submission_from_form, typed_again
from web.templating import templates


def long_date(day: date | None) -> str:
    """'1 December 2026' (GOV.UK style); empty for no date."""
    return describe_date(day) if day else ""


templates.env.filters["long_date"] = long_date
EXTRA_ROWS = 3
"""Rows for other business, below one per agenda item."""
RECORDED_NOTICE = "Recorded. Each commitment is now chased with the ICB contact by its date, like any other request."


class RowCount(BaseModel):
    row_count: int = Field(ge=1, le=200)


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def routes(console: Console) -> list[Route]:
    audit = AuditLog(console.engine)
    meetings = Meetings(console.engine)
    settings = console.settings

    async def build(request: Request, chosen: dict[str, str]) -> MeetingPack:
        choice = meeting_pack.choose(chosen)
        return await meeting_pack.gather(
            request.app.state.client,
            settings.escalation_config(),
            audit,
            meetings,
            choice.icb,
            choice.meeting_date,
            choice.since,
            alerts_between=lambda start, end: alerts.for_icb(console.engine, choice.icb, start, end),
        )

    def render(
        request: Request,
        who: Who,
        chosen: dict[str, str],
        pack: MeetingPack | None,
        errors: dict[str, str],
        form: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        config = settings.escalation_config()
        icbs = [o for o in config.organisations if o.kind == "icb"]
        items = [*pack.agenda, *pack.incidents] if pack else []
        recorded = []
        if pack is not None:
            recorded = meetings.outcomes(pack.icb.code, pack.meeting_date)
        context = {
            "who": who,
            "chosen": chosen,
            "errors": errors,
            "pack": pack,
            "icbs": icbs,
            "items": items,
            "row_count": len(items) + EXTRA_ROWS,
            "form": form or {},
            "recorded": recorded,
            "csrf": console.signer.csrf_for(request),
            "notice": RECORDED_NOTICE if request.query_params.get("recorded") else None,
            "alert_label": alert_label(config),
            "hours": hours,
        }
        return templates.TemplateResponse(request, "meeting_pack.html", context, status_code=status)

    async def page(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        chosen = {k: request.query_params.get(k, "") for k in ("icb", "date", "since")}
        pack, errors = None, {}
        if chosen["icb"] or chosen["date"]:
            try:
                pack = await build(request, chosen)
            except Refused as refused:
                if not refused.fields:
                    raise
                errors = refused.fields
        return render(request, who, chosen, pack, errors, status=422 if errors else 200)

    async def outcomes(request: Request) -> Response:
        """The officer records what the meeting agreed; on a refusal the page comes back with every
        field as typed and each problem beside its field."""
        who, form = await console.posted_by(request, OFFICERS, "officers record what a meeting agreed")
        chosen = {k: form.get(k, "") for k in ("icb", "date", "since")}
        pack = await build(request, chosen)
        try:
            rows = admit(RowCount, {"row_count": form.get("row_count", "0")}).row_count
            await meeting_outcomes.record(
                request.app.state.client,
                settings,
                meetings,
                who.email,
                pack.icb.code,
                pack.meeting_date,
                submission_from_form(form),
                form,
                rows,
                {item.reference: item.title for item in [*pack.agenda, *pack.incidents]},
            )
        except Refused as refused:
            if not refused.fields:
                raise
            return render(request, who, chosen, pack, refused.fields, typed_again(form), status=refused.http_status)
        query = urlencode({"icb": pack.icb.code, "date": pack.meeting_date.isoformat(), "recorded": "1"})
        return RedirectResponse(f"/console/meeting?{query}#recorded", status_code=303)

    async def download(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        pack = await build(request, {k: request.query_params.get(k, "") for k in ("icb", "date", "since")})
        name = f"liaison-meeting-{pack.icb.code}-{pack.meeting_date.isoformat()}.docx"
        return Response(
            pack_docx(pack, alert_label(settings.escalation_config())),
            media_type=DOCX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return [
        Route("/console/meeting", page),
        Route("/console/meeting/pack.docx", download),
        Route("/console/meeting/outcomes", outcomes, methods=["POST"]),
    ]
