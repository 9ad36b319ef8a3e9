"""Short-lived signed tokens (HMAC-SHA256) for sockets and widget visitors, and HMAC identity checks.

A token is ``base64url(json payload) "." base64url(mac)``; the MAC covers a purpose string too, so a token minted
for one purpose (a visitor's socket) is never accepted for another (an agent's). Tokens carry their own expiry
and are verified without a database, which keeps the real-time gateway off the database on its hot path.

Keys are bytes derived for one purpose (``security/keys.py``), never the raw secret key: ``verify`` accepts the
current key and those of previous secrets during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

from omnidesk.core.errors import Unauthenticated


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    return _b64(hmac.new(key, f"{purpose}\n{body}".encode(), hashlib.sha256).digest())


def sign(key: bytes, purpose: str, payload: dict[str, Any], ttl_seconds: int, *, now: float | None = None) -> str:
    """Sign ``payload`` for ``purpose``, valid for ``ttl_seconds``."""
    issued = int(now if now is not None else time.time())
    body = _b64(json.dumps({**payload, "exp": issued + ttl_seconds}, separators=(",", ":")).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def verify(keys: Sequence[bytes], purpose: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The payload of a valid, unexpired token of this purpose signed with one of ``keys``; :class:`Unauthenticated`
    otherwise."""
    body, _, mac = token.partition(".")
    if not body or not mac or len(token) > 4096:
        raise Unauthenticated("the token is invalid")
    if not any(hmac.compare_digest(mac, _mac(key, purpose, body)) for key in keys):
        raise Unauthenticated("the token is invalid")
    try:
        payload: dict[str, Any] = json.loads(_unb64(body))
    except ValueError:
        raise Unauthenticated("the token is invalid") from None
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) <= (now if now is not None else time.time()):
        raise Unauthenticated("the token has expired; ask for a new one")
    return payload


def unverified_payload(token: str) -> dict[str, Any]:
    """The payload *before* any check, only to choose which key must verify it; never act on it otherwise."""
    try:
        payload = json.loads(_unb64(token.partition(".")[0][:4096]))
    except (ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def hmac_hex(secret: str, message: str) -> str:
    """The hex HMAC-SHA256 a host site computes over a visitor's identity with the tenant's widget secret."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def hmac_matches(secret: str, message: str, given: str) -> bool:
    return hmac.compare_digest(hmac_hex(secret, message), given.lower())
