"""Storage models of the widget channel."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class WidgetConfig(TenantOwned, Base):
    """A tenant's widget: the origins that may embed it and the secret host sites sign visitor identities with."""

    __tablename__ = "widget_configs"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    enabled: Mapped[bool] = mapped_column(default=True)
    identity_secret: Mapped[str] = mapped_column(String(100))
    allowed_origins: Mapped[list[str]] = mapped_column(default=list)
    title: Mapped[str] = mapped_column(String(100), default="")
    greeting: Mapped[str] = mapped_column(String(500), default="")
    accent_color: Mapped[str] = mapped_column(String(7), default="#1f6feb")
    # {"enabled": bool, "fields": [{"key", "label", "required", "enabled"}]}: see schemas.PrechatForm
    prechat: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "off" (the assistant or the queue answers), "no_agents" (the offline form while no agent is online) or
    # "outside_hours" (the offline form outside the business hours of /settings/hours)
    offline_form: Mapped[str] = mapped_column(String(16), default="off")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(TenantOwned, Base):
    """A file sent in a conversation; the bytes live encrypted in the blob store under ``storage_key``."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
