"""Withdrawing links: an officer stops every link one recipient holds for one escalation (the contact
left, the email was forwarded). Recorded in the security log, who and why, like other access changes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from persistence.revoked_links import RevokedLinks
from persistence.security_log import SecurityLog
from service.gate import WithdrawLinks, admit


def withdraw_links(
    engine: Engine, escalation_id: str, by: str, recipient: str, reason: str, contact_instead: str, client: str | None
) -> bool:
    """True if the links are withdrawn now; False if they had been already."""
    wanted = admit(
        WithdrawLinks,
        {"recipient": recipient, "reason": reason, "contact_instead": contact_instead.strip() or None},
    )
    now = datetime.now(UTC)
    fresh = RevokedLinks(engine).revoke(escalation_id, wanted.recipient, now, by, wanted.reason, wanted.contact_instead)
    if fresh:
        SecurityLog(engine).record(
            "links_withdrawn",
            now,
            email=wanted.recipient,
            by=by,
            client=client,
            escalation_id=escalation_id,
            reason=wanted.reason,
        )
    return fresh
