"""The webhook envelope and its signature (Stripe-style), shared by the sender and the docs' example receiver.

``OmniDesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``: the timestamp is signed with
the body, so a receiver that rejects old timestamps is safe from replays of captured requests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105  (a marker, not a secret: tells people what the value is)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def body(delivery_id: uuid.UUID, event_type: str, created_at: datetime, tenant_id: uuid.UUID, data: Any) -> bytes:
    """The exact bytes sent: the same for every attempt and replay of one delivery."""
    envelope = {
        "id": str(delivery_id),
        "type": event_type,
        "created_at": created_at.isoformat(),
        "tenant": str(tenant_id),
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, payload: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (tests use it as the receiver)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, payload).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
