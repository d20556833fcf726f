"""structlog JSON logs for every process; stdlib logging (Temporal's, uvicorn's) routed through it."""

from __future__ import annotations

import logging
import re
import sys

import structlog
from temporalio import activity, workflow

_LINK_TOKEN = re.compile(r"^(/[rp]/)[^/?#]+")


class LinkTokensWithheld(logging.Filter):
    """uvicorn's access log names each request's path, and a link page's path is its signed token: a password for that
    page until it expires (and a practice's carries its address). Logged as '/r/…' and '/p/…' instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):  # (client, method, path, ...)
            record.args = (*args[:2], _LINK_TOKEN.sub("\\1…", args[2]), *args[3:])
        return True


def configure_logging(level: int = logging.INFO) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, LinkTokensWithheld) for f in access.filters):
        access.addFilter(LinkTokensWithheld())
    # Temporal adds its workflow and activity info as structured fields; keep messages plain.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
