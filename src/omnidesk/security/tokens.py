"""Random credentials. Keys look like ``odk_<prefix>_<secret>``; the prefix finds the row, the digest proves it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "odk"
PLATFORM_PREFIX = "odp"


def digest(secret: str) -> str:
    """SHA-256 is enough here: the secrets are 256-bit random values, not passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key(kind: str = KEY_PREFIX) -> tuple[str, str, str]:
    """Return ``(full_key, prefix, secret_digest)``; the full key is shown once and never stored."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{kind}_{prefix}_{secret}", prefix, digest(secret)


def split_api_key(key: str) -> tuple[str, str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] not in (KEY_PREFIX, PLATFORM_PREFIX) or len(parts[1]) != 12:
        return None
    return parts[0], parts[1], parts[2]


def matches(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
