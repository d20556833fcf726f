"""The console for signed-in officers, ops staff and admins, one module per concern:
`dashboard`, `escalation_page`, `actions`, `start` (forms from the kind registry), `report`, `users`."""

from __future__ import annotations

from starlette.routing import Route

from web.console import (
    actions,
    calendar_page,
    dashboard,
    escalation_page,
    meeting_pack,
    practices_page,
    report,
    start,
    users,
)
from web.console.guard import Console


def console_routes(console: Console) -> list[Route]:
    return [
        *dashboard.routes(console),
        *escalation_page.routes(console),
        *practices_page.routes(console),
        *actions.routes(console),
        *start.routes(console),
        *report.routes(console),
        *users.routes(console),
        *meeting_pack.routes(console),
        *calendar_page.routes(console),
    ]
