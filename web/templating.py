"""The one Jinja environment every page renders through, with the wording pages share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.templating import Jinja2Templates

from domain.calendar import calendar_of_case
from domain.working_days import describe_deadline, working_days_left

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@pass_context
def deadline_in_words(context: Context, deadline: str | None) -> str | None:
    """'17:00 on Monday 30 November 2026 (3 working days left)' from a view's ISO deadline, the working
    days counted over the calendar the page's escalation (`view`) carries."""
    if not deadline:
        return None
    due = datetime.fromisoformat(deadline)
    view = context.get("view")
    calendar = calendar_of_case(view.case if view is not None and isinstance(view.case, dict) else {})
    return f"{describe_deadline(due)} ({working_days_left(calendar, datetime.now(UTC), due)} working days left)"


templates.env.filters["deadline_in_words"] = deadline_in_words
