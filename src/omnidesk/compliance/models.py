"""Storage models of the compliance slice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class AuditRecord(TenantOwned, Base):
    """Who changed what, when: written in the same transaction as the change."""

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotentResponse(Base):
    """A stored response to a POST carrying ``Idempotency-Key``, replayed to a retry with the same key.

    Scoped by a digest of the caller's credential rather than by tenant, so that one caller's key can never
    replay another caller's response.
    """

    __tablename__ = "idempotent_responses"
    __table_args__ = (Index("uq_idempotent_scope_key", "scope", "key", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(default=0)
    body: Mapped[bytes | None] = mapped_column(default=None)
    content_type: Mapped[str] = mapped_column(String(100), default="application/json")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
