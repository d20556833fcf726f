"""Signed, expiring links bound to one escalation, one recipient and that recipient's role.

The role decides which actions the link page offers (intersected with what the escalation
has open at the time), so any contact ever sent a link can still respond later. Opening a
link changes nothing; it is not used up by being opened (mail scanners open them first).

Signing is itsdangerous's, with key rotation: new links are signed with the current key; every
key still configured verifies, so links signed with an older key work until they expire. A link
can also be withdrawn before it expires (`persistence/revoked_links.py`, checked by the web app).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from domain.contacts import Role
from settings import LinkKeys

__all__ = ["LinkGrant", "LinkKeys", "LinkRefused", "sign_link", "verify_link"]

_SALT = "lmc-escalations.response-link"


WHAT_TO_DO = (
    "Open the link from the email again, copying all of it if it ran onto a second line; if it still does not "
    "open, reply to the email and the LMC officer will send a new one."
)
"""The next step a refused link's page gives (an expired one: ask for a new one)."""


class LinkRefused(Exception):
    """Forged, tampered, malformed or expired; the message says which, for the refusal page."""


@dataclass(frozen=True)
class LinkGrant:
    escalation_id: str
    recipient: str
    role: Role
    expires_at: datetime


def _serializer(keys: LinkKeys) -> URLSafeSerializer:
    """itsdangerous signs with the last key and verifies with any: the current key goes last."""
    ordered = [key for key_id, key in keys.keys.items() if key_id != keys.current] + [keys.keys[keys.current]]
    return URLSafeSerializer(ordered, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def sign_link(keys: LinkKeys, grant: LinkGrant) -> str:
    payload = {
        "e": grant.escalation_id,
        "r": grant.recipient,
        "o": grant.role.value,
        "x": int(grant.expires_at.timestamp()),
    }
    return str(_serializer(keys).dumps(payload))


def verify_link(keys: LinkKeys, token: str, now: datetime | None = None) -> LinkGrant:
    try:
        data = _serializer(keys).loads(token)
    except BadData:
        data = _verify_before_itsdangerous(keys, token)
    try:
        grant = LinkGrant(
            escalation_id=str(data["e"]),
            recipient=str(data["r"]),
            role=Role(data["o"]),
            expires_at=datetime.fromtimestamp(int(data["x"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise LinkRefused(f"This link is not one the escalation engine issued. {WHAT_TO_DO}") from err
    if (now or datetime.now(UTC)) >= grant.expires_at:
        raise LinkRefused(f"This link expired on {grant.expires_at:%-d %B %Y}. Ask the LMC officer for a new one.")
    return grant


def _verify_before_itsdangerous(keys: LinkKeys, token: str) -> dict[str, Any]:
    """Links emailed before signing moved to itsdangerous (November 2026) carry their own format;
    they are honoured until they expire (120 days at most), then this function can go."""
    try:
        body, mac_text = token.split(".")
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        key = keys.keys.get(str(data.get("k", "default")), b"")
    except (ValueError, AttributeError) as err:
        raise LinkRefused(f"This link is not one the escalation engine issued. {WHAT_TO_DO}") from err
    expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
    if not key or not hmac.compare_digest(mac, expected) or not isinstance(data, dict):
        raise LinkRefused(f"This link has been altered or was not issued by the escalation engine. {WHAT_TO_DO}")
    return data
