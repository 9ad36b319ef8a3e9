"""Known devices: a signed cookie naming the accounts that signed in successfully on this browser.

The log-in throttle (``security/throttle.py``) delays guesses against an account from everywhere else; a browser
whose cookie names the account is the owner's, so it skips that delay (it still needs the right password, and its
own attempts are rate-limited per device). The cookie is a signed token, so it cannot be forged or moved to
another account; it proves nothing but "this browser signed in to these accounts before".
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from omnidesk.core.errors import Unauthenticated
from omnidesk.security import signing
from omnidesk.security.keys import PurposeKeys

PURPOSE = "omnidesk-device"
TTL_SECONDS = 180 * 86400
MAX_ACCOUNTS = 5


@dataclass(frozen=True)
class Device:
    id: str
    accounts: frozenset[uuid.UUID] = field(default_factory=frozenset)
    order: tuple[str, ...] = ()


def read(keys: PurposeKeys, cookie: str | None) -> Device | None:
    """The device a cookie describes, or ``None`` for a missing, forged or expired cookie."""
    if not cookie:
        return None
    try:
        payload = signing.verify(keys.accepted, PURPOSE, cookie)
        accounts = [str(uuid.UUID(str(a))) for a in payload.get("a", [])][-MAX_ACCOUNTS:]
        device_id = str(payload["d"])[:64]
    except (Unauthenticated, KeyError, ValueError, TypeError):
        return None
    return Device(id=device_id, accounts=frozenset(uuid.UUID(a) for a in accounts), order=tuple(accounts))


def remember(keys: PurposeKeys, device: Device | None, user_id: uuid.UUID) -> str:
    """A cookie value for ``device`` (a new one if ``None``) that also names ``user_id`` (most recent last)."""
    accounts = [a for a in (device.order if device else ()) if a != str(user_id)] + [str(user_id)]
    device_id = device.id if device else secrets.token_urlsafe(12)
    return signing.sign(keys.current, PURPOSE, {"d": device_id, "a": accounts[-MAX_ACCOUNTS:]}, TTL_SECONDS)
