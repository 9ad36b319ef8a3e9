"""Verifying who a visitor is. Pure: no database; the clock is passed in.

A host site that knows its signed-in user passes ``identifier``, ``identifier_issued_at`` (Unix seconds, when its
server signed) and ``identifier_hash`` = ``hex(HMAC-SHA256(identity_secret, f"{identifier}:{issued_at}"))``,
computed on its server when it renders the page. Without the tenant's secret nobody can produce the hash, so no
visitor can claim another person's identity (and their history); because the time is signed too, a token copied
from a page, a log or a browser history stops working ``OMNIDESK_WIDGET_IDENTITY_MAX_AGE_SECONDS`` after it was
issued instead of never. E-mail and phone typed into the widget are contact details only: they are stored on the
visitor's own profile, never used to merge it with an existing customer, because typing someone's address proves
nothing.

Tokens of the first scheme (the identifier alone, no time) are not accepted any more: a tenant flag keeping them
would keep exactly the never-expiring, replayable token this scheme closes, and the host site's change is one line.
A widget whose host site still sends them falls back to an anonymous chat (docs/widget.md).
"""

from __future__ import annotations

from omnidesk.core.errors import DomainError
from omnidesk.security.signing import hmac_hex, hmac_matches

CLOCK_SKEW_SECONDS = 60
"""How far in the future an issue time may be: the host server's clock and ours are never exactly equal."""


class IdentityExpired(DomainError):
    """A genuinely signed identity token outside its validity window: the host page must sign a fresh one."""

    status = 401
    code = "identity-expired"
    title = "Identity token expired"


def signed_text(identifier: str, issued_at: int) -> str:
    """What the host site signs. The issue time is digits only, so the last ``:`` separates the two."""
    return f"{identifier}:{issued_at}"


def identity_hash(secret: str, identifier: str, issued_at: int) -> str:
    """What the host site computes (documented for integrators; used by tests)."""
    return hmac_hex(secret, signed_text(identifier, issued_at))


def verified(
    secret: str,
    identifier: str | None,
    issued_at: int | None,
    given_hash: str | None,
    *,
    now: int,
    max_age_seconds: int,
) -> bool:
    """True when the identity is proven. False when none is claimed or the hash is not the tenant's (the visitor
    stays anonymous, as with any made-up claim). :class:`IdentityExpired` when the hash is right but the token was
    issued more than ``max_age_seconds`` ago or is dated in the future beyond the allowed clock skew: only the
    holder of a real token learns that, and it tells the integrator exactly what to fix."""
    if not identifier or not given_hash or not secret or issued_at is None:
        return False
    if not hmac_matches(secret, signed_text(identifier, issued_at), given_hash):
        return False
    age = now - issued_at
    if age > max_age_seconds:
        raise IdentityExpired(
            f"the identity token was issued {age} seconds ago and is valid for {max_age_seconds}: the host site "
            "must sign identifier and identifier_issued_at when it serves the page (see docs/widget.md)"
        )
    if -age > CLOCK_SKEW_SECONDS:
        raise IdentityExpired(
            f"identifier_issued_at is {-age} seconds in the future (at most {CLOCK_SKEW_SECONDS} are allowed): "
            "check the host server's clock; it must be Unix time in seconds"
        )
    return True
