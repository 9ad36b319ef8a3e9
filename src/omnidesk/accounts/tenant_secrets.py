"""A tenant's own credentials for outside systems (its LLM provider's API key; later webhook and channel secrets).

Write-only: set, replace and clear, never read back through any API or page; callers see whether one is set and
its last four characters. Each value is sealed with AES-256-GCM under the tenant-secret key derived for this
purpose (``security/keys.py``); the tenant id and the secret's name are the associated data, so a ciphertext
copied to another tenant's row or another name does not open. Rotation re-seals every value under the current
key (``omnidesk secrets rotate``).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from omnidesk.compliance import audit
from omnidesk.core.actor import Actor
from omnidesk.core.db import Base, TenantOwned, utcnow
from omnidesk.security.keys import PurposeKeys
from omnidesk.security.permissions import Perm

_VERSION = b"\x01"


class TenantSecret(TenantOwned, Base):
    """One named credential of a tenant, sealed; ``version`` moves on every change (caches key on it)."""

    __tablename__ = "tenant_secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(40))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    last4: Mapped[str] = mapped_column(String(4), default="")
    version: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class SecretStatus:
    """What may be shown about a secret."""

    is_set: bool
    last4: str
    updated_at: datetime | None


class SecretUnreadable(RuntimeError):
    """No accepted key opens the stored value (the secret key changed without OMNIDESK_SECRET_KEY_PREVIOUS)."""


def _aad(tenant_id: uuid.UUID, name: str) -> bytes:
    return f"{tenant_id}/{name}".encode()


def seal(keys: PurposeKeys, tenant_id: uuid.UUID, name: str, value: str) -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(keys.current).encrypt(nonce, value.encode(), _aad(tenant_id, name))


def unseal(keys: PurposeKeys, tenant_id: uuid.UUID, name: str, sealed: bytes) -> str:
    if sealed[:1] != _VERSION:
        raise SecretUnreadable("unknown format")
    nonce, body = sealed[1:13], sealed[13:]
    for key in keys.accepted:
        try:
            return AESGCM(key).decrypt(nonce, body, _aad(tenant_id, name)).decode()
        except InvalidTag:
            continue
    raise SecretUnreadable("no accepted key opens this secret")


def _row(session: Session, name: str) -> TenantSecret | None:
    return session.scalar(select(TenantSecret).where(TenantSecret.name == name))


def status(session: Session, name: str) -> SecretStatus:
    row = _row(session, name)
    if row is None or row.sealed is None:
        return SecretStatus(False, "", row.updated_at if row else None)
    return SecretStatus(True, row.last4, row.updated_at)


def version(session: Session, name: str) -> int:
    return int(session.scalar(select(func.max(TenantSecret.version)).where(TenantSecret.name == name)) or 0)


def reveal(session: Session, keys: PurposeKeys, tenant_id: uuid.UUID, name: str) -> str:
    """The clear value for the server's own use (calling the outside system); "" when none is set."""
    row = _row(session, name)
    if row is None or row.sealed is None:
        return ""
    return unseal(keys, tenant_id, name, row.sealed)


def set_secret(
    session: Session, actor: Actor, keys: PurposeKeys, name: str, value: str, *, permission: Perm
) -> SecretStatus:
    """Store or replace; the audit record says that it changed and by whom, never the value."""
    actor.require(permission)
    row = _row(session, name)
    if row is None:
        row = TenantSecret(tenant_id=actor.tenant_id, name=name, version=0)
        session.add(row)
    # Short values would be nearly given away by their last four characters.
    row.last4 = value[-4:] if len(value) >= 16 else ""
    row.sealed = seal(keys, actor.tenant_id, name, value)
    row.version = (row.version or 0) + 1
    row.updated_by = actor.staff_id
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "secret.set", "tenant_secret", name, {"name": name})
    return SecretStatus(True, row.last4, row.updated_at)


def clear_secret(session: Session, actor: Actor, name: str, *, permission: Perm) -> SecretStatus:
    actor.require(permission)
    row = _row(session, name)
    if row is not None and row.sealed is not None:
        row.sealed = None
        row.last4 = ""
        row.version += 1
        row.updated_by = actor.staff_id
        row.updated_at = utcnow()
        session.flush()
        audit.record(session, actor, "secret.clear", "tenant_secret", name, {"name": name})
    return SecretStatus(False, "", row.updated_at if row else None)


def reseal_all(session: Session, keys: PurposeKeys) -> int:
    """Re-encrypt every stored secret (of all tenants: a platform session) under the current key."""
    count = 0
    for row in session.scalars(select(TenantSecret).where(TenantSecret.sealed.is_not(None))):
        assert row.sealed is not None
        value = unseal(keys, row.tenant_id, row.name, row.sealed)
        row.sealed = seal(keys, row.tenant_id, row.name, value)
        count += 1
    return count
