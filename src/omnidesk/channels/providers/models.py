"""Storage of the provider channels: one configured account per provider and tenant (delivery states live on
``channels.models.MessageDelivery``, shared with e-mail)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class ProviderChannel(TenantOwned, Base):
    """A tenant's account on a messaging provider (its WhatsApp number, its Telegram bot, its SMS sender).

    ``config`` holds what is not secret (phone number id, API base URL); the credentials live sealed in
    ``tenant_secrets`` under ``<provider>.<name>``. ``last_received_at`` / ``last_error`` are the health shown on
    ``/settings/channels``."""

    __tablename__ = "provider_channels"
    __table_args__ = (UniqueConstraint("tenant_id", "provider"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(default=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_received_at: Mapped[datetime | None] = mapped_column(default=None)
    last_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
