"""structlog JSON logs: workflow code logs through the replay-safe logger, and every line names its escalation."""

from __future__ import annotations

import json
import logging

import pytest
from temporalio.client import Client

from logging_setup import configure_logging
from service import acting, starting
from settings import Settings
from tests.conftest import Inbox
from tests.helpers import CLAIM, example_start, officer


async def test_workflow_and_activity_logs_are_json_with_the_escalation_id(
    time_client: Client, settings: Settings, inbox: Inbox, capfd: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging()
    try:
        start = example_start(settings)
        eid = await starting.start(time_client, settings, CLAIM, start)
        await inbox.wait_for(eid, 1)
        await acting.respond(time_client, eid, officer("withdraw", reasons="logging test"))
        await time_client.get_workflow_handle(eid).result()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    err = capfd.readouterr().err
    assert "Logging error" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{") and eid in line]
    assert any(line.get("event") == "response recorded" and line.get("escalation_id") == eid for line in lines)
    assert any(line.get("event") == "email_sent" for line in lines)


def test_the_access_log_names_a_link_page_without_its_token() -> None:
    """A link's token is the password to its page until it expires: the access log says '/r/…', as uvicorn logs it,
    whichever handlers uvicorn's own logging set up (the filter is on its logger)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging()
    access = logging.getLogger("uvicorn.access")
    seen: list[str] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    kept, level, disabled = Kept(), access.level, access.disabled
    access.addHandler(kept)
    access.setLevel(logging.INFO)
    access.disabled = False
    try:
        for path in ("/r/eyJhbGciOi.SECRET-TOKEN", "/p/SECRET-TOKEN/answer?x=1", "/console/e/CLM-1"):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", path, "1.1", 200)
    finally:
        access.removeHandler(kept)
        access.setLevel(level)
        access.disabled = disabled
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert seen == [
        '127.0.0.1:5000 - "POST /r/… HTTP/1.1" 200',
        '127.0.0.1:5000 - "POST /p/…/answer?x=1 HTTP/1.1" 200',
        '127.0.0.1:5000 - "POST /console/e/CLM-1 HTTP/1.1" 200',
    ]
