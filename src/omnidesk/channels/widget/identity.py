"""Verifying who a visitor is. Pure: no database, no clock.

A host site that knows its signed-in user passes ``identifier`` and ``identifier_hash`` =
``hex(HMAC-SHA256(identity_secret, identifier))``, computed on its server. Without the tenant's secret nobody can
produce the hash, so no visitor can claim another person's identity (and their history). E-mail and phone typed
into the widget are contact details only: they are stored on the visitor's own profile, never used to merge it
with an existing customer, because typing someone's address proves nothing.
"""

from __future__ import annotations

from omnidesk.security.signing import hmac_hex, hmac_matches


def identity_hash(secret: str, identifier: str) -> str:
    """What the host site computes (documented for integrators; used by tests and the admin page)."""
    return hmac_hex(secret, identifier)


def verified(secret: str, identifier: str | None, given_hash: str | None) -> bool:
    if not identifier or not given_hash or not secret:
        return False
    return hmac_matches(secret, identifier, given_hash)
