"""Signed, expiring links bound to one escalation, one recipient and that recipient's role.

The role decides which actions the link page offers (intersected with what the escalation
has open at the time), so any contact ever sent a link can still respond later. Opening a
link changes nothing; it is not used up by being opened (mail scanners open them first).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.contacts import Role
from settings import LinkKeys

__all__ = ["LinkGrant", "LinkKeys", "LinkRefused", "sign_link", "verify_link"]


class LinkRefused(Exception):
    """Forged, tampered, malformed or expired; the message says which, for the refusal page."""


@dataclass(frozen=True)
class LinkGrant:
    escalation_id: str
    recipient: str
    role: Role
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(keys: LinkKeys, grant: LinkGrant) -> str:
    payload = json.dumps(
        {
            "e": grant.escalation_id,
            "r": grant.recipient,
            "o": grant.role.value,
            "x": int(grant.expires_at.timestamp()),
            "k": keys.current,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    body = _b64(payload)
    mac = hmac.new(keys.keys[keys.current], body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify_link(keys: LinkKeys, token: str, now: datetime | None = None) -> LinkGrant:
    try:
        body, mac_text = token.split(".")
        mac = _unb64(mac_text)
        data = json.loads(_unb64(body))
        key = keys.keys.get(str(data.get("k", "default")), b"")
    except (ValueError, AttributeError) as err:
        raise LinkRefused("This link is not one the escalation engine issued.") from err
    expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
    if not key or not hmac.compare_digest(mac, expected):
        raise LinkRefused("This link has been altered or was not issued by the escalation engine.")
    try:
        grant = LinkGrant(
            escalation_id=str(data["e"]),
            recipient=str(data["r"]),
            role=Role(data["o"]),
            expires_at=datetime.fromtimestamp(int(data["x"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise LinkRefused("This link is not one the escalation engine issued.") from err
    if (now or datetime.now(UTC)) >= grant.expires_at:
        raise LinkRefused(f"This link expired on {grant.expires_at:%-d %B %Y}. Ask the LMC officer for a new one.")
    return grant
