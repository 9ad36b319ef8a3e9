"""Short-lived signed tokens (HMAC-SHA256) for sockets and widget visitors, and HMAC identity checks.

A token is ``base64url(json payload) "." base64url(mac)``; the MAC covers a purpose string too, so a token minted
for one purpose (a visitor's socket) is never accepted for another (an agent's). Tokens carry their own expiry
and are verified without a database, which keeps the real-time gateway off the database on its hot path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from omnidesk.core.errors import Unauthenticated


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, purpose: str, body: str) -> str:
    return _b64(hmac.new(key.encode(), f"{purpose}\n{body}".encode(), hashlib.sha256).digest())


def sign(key: str, purpose: str, payload: dict[str, Any], ttl_seconds: int, *, now: float | None = None) -> str:
    """Sign ``payload`` for ``purpose``, valid for ``ttl_seconds``."""
    issued = int(now if now is not None else time.time())
    body = _b64(json.dumps({**payload, "exp": issued + ttl_seconds}, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def verify(key: str, purpose: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The payload of a valid, unexpired token of this purpose; :class:`Unauthenticated` otherwise."""
    body, _, mac = token.partition(".")
    if not body or not mac or len(token) > 4096 or not hmac.compare_digest(mac, _mac(key, purpose, body)):
        raise Unauthenticated("the token is invalid")
    try:
        payload: dict[str, Any] = json.loads(_unb64(body))
    except ValueError:
        raise Unauthenticated("the token is invalid") from None
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) <= (now if now is not None else time.time()):
        raise Unauthenticated("the token has expired; ask for a new one")
    return payload


def hmac_hex(secret: str, message: str) -> str:
    """The hex HMAC-SHA256 a host site computes over a visitor's identity with the tenant's widget secret."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def hmac_matches(secret: str, message: str, given: str) -> bool:
    return hmac.compare_digest(hmac_hex(secret, message), given.lower())
