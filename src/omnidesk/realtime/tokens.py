"""Dedicated short-lived socket tokens: minted over an authenticated HTTP call, spent on the socket's first frame.

They are signed, not stored: the gateway checks them without the database. A token says who connects and what
they may receive (tenant, visitor's customer, or staff id, role scope and teams); it is good for opening a socket
within ``TTL_SECONDS``, not for any HTTP call (different purpose string). Staff and visitor tokens are signed with
different keys (``security/keys.py``), so whoever could mint visitor tokens still cannot mint a staff one.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from omnidesk.core.errors import Unauthenticated
from omnidesk.security import signing
from omnidesk.security.keys import Keyring, Purpose

PURPOSE = "omnidesk-ws"
TTL_SECONDS = 300


@dataclass(frozen=True, slots=True)
class SocketGrant:
    """What one socket may see. ``read_all``: every conversation of the tenant (supervisors, admins)."""

    tenant_id: uuid.UUID
    kind: str  # "visitor" or "staff"
    customer_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    read_all: bool = False
    team_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    supervise: bool = False
    epoch: int = 0  # the staff member's socket epoch at minting; a higher stored epoch voids the token
    session_id: uuid.UUID | None = None  # the browser session that minted it; signing that session out closes it


def _purpose(kind: object) -> Purpose:
    if kind == "staff":
        return Purpose.STAFF_SOCKET
    if kind == "visitor":
        return Purpose.VISITOR_SOCKET
    raise Unauthenticated("the token is invalid")


def mint(keys: Keyring, grant: SocketGrant) -> str:
    payload: dict[str, Any] = {"t": str(grant.tenant_id), "k": grant.kind}
    if grant.customer_id:
        payload["c"] = str(grant.customer_id)
    if grant.staff_id:
        payload["s"] = str(grant.staff_id)
    if grant.read_all:
        payload["ra"] = 1
    if grant.supervise:
        payload["sv"] = 1
    if grant.team_ids:
        payload["tm"] = sorted(str(t) for t in grant.team_ids)
    if grant.epoch:
        payload["e"] = grant.epoch
    if grant.session_id:
        payload["sid"] = str(grant.session_id)
    return signing.sign(keys[_purpose(grant.kind)].current, PURPOSE, payload, TTL_SECONDS)


_NO_TEAMS: frozenset[uuid.UUID] = frozenset()


@functools.lru_cache(maxsize=4096)
def _tenant_id(raw: str) -> uuid.UUID:
    """One UUID object per tenant, shared by the grants of its (possibly tens of thousands of) open sockets."""
    return uuid.UUID(raw)


def redeem(keys: Keyring, token: str) -> SocketGrant:
    # The kind a token claims picks the key that must have signed it; the claim is only trusted once that key
    # verified it.
    claimed = signing.unverified_payload(token).get("k")
    payload = signing.verify(keys[_purpose(claimed)].accepted, PURPOSE, token)
    try:
        grant = SocketGrant(
            tenant_id=_tenant_id(payload["t"]),
            kind=str(payload["k"]),
            customer_id=uuid.UUID(payload["c"]) if "c" in payload else None,
            staff_id=uuid.UUID(payload["s"]) if "s" in payload else None,
            read_all=bool(payload.get("ra")),
            supervise=bool(payload.get("sv")),
            team_ids=frozenset(uuid.UUID(t) for t in payload["tm"]) if payload.get("tm") else _NO_TEAMS,
            epoch=int(payload.get("e", 0)),
            session_id=uuid.UUID(payload["sid"]) if "sid" in payload else None,
        )
    except (KeyError, ValueError, TypeError):
        raise Unauthenticated("the token is invalid") from None
    if grant.kind == "visitor" and grant.customer_id is None:
        raise Unauthenticated("the token is invalid")
    if grant.kind not in ("visitor", "staff"):
        raise Unauthenticated("the token is invalid")
    return grant
