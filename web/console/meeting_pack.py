"""The liaison meeting pack in the console: choose an ICB and the meeting's date, read the pack
(printable: the page's print styles leave only the pack), download it as a Word document to send
ahead. Signed-in staff read it, as they read every escalation."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.working_days import describe_date
from persistence.audit_log import AuditLog
from persistence.meetings import Meetings
from service import meeting_pack
from service.meeting_pack import MeetingPack
from service.refusals import Refused
from web.console.guard import Console
from web.console.meeting_docx import pack_docx
from web.templating import templates


def long_date(day: date | None) -> str:
    """'1 December 2026' (GOV.UK style); empty for no date."""
    return describe_date(day) if day else ""


templates.env.filters["long_date"] = long_date
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def routes(console: Console) -> list[Route]:
    audit = AuditLog(console.engine)
    meetings = Meetings(console.engine)
    settings = console.settings

    async def build(request: Request) -> MeetingPack:
        choice = meeting_pack.choose(dict(request.query_params))
        return await meeting_pack.gather(
            request.app.state.client,
            settings.escalation_config(),
            audit,
            meetings,
            choice.icb,
            choice.meeting_date,
            choice.since,
        )

    async def page(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        chosen = {k: request.query_params.get(k, "") for k in ("icb", "date", "since")}
        pack, errors = None, {}
        if chosen["icb"] or chosen["date"]:
            try:
                pack = await build(request)
            except Refused as refused:
                if not refused.fields:
                    raise
                errors = refused.fields
        icbs = [o for o in settings.escalation_config().organisations if o.kind == "icb"]
        context = {"who": who, "chosen": chosen, "errors": errors, "pack": pack, "icbs": icbs}
        status = 422 if errors else 200
        return templates.TemplateResponse(request, "meeting_pack.html", context, status_code=status)

    async def download(request: Request) -> Response:
        who = console.who(request)
        if isinstance(who, Response):
            return who
        pack = await build(request)
        name = f"liaison-meeting-{pack.icb.code}-{pack.meeting_date.isoformat()}.docx"
        return Response(
            pack_docx(pack), media_type=DOCX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    return [Route("/console/meeting", page), Route("/console/meeting/pack.docx", download)]
