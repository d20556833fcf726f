"""The one Jinja environment every page renders through, with the wording pages share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from starlette.templating import Jinja2Templates

from domain.working_days import describe_deadline, working_days_left

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def deadline_in_words(deadline: str | None) -> str | None:
    """'17:00 on Monday 30 November 2026 (3 working days left)' from a view's ISO deadline."""
    if not deadline:
        return None
    due = datetime.fromisoformat(deadline)
    return f"{describe_deadline(due)} ({working_days_left(datetime.now(UTC), due)} working days left)"


templates.env.filters["deadline_in_words"] = deadline_in_words
