"""Outgoing webhooks: a tenant's subscriptions (URL, event types, sealed signing secret) and the delivery log.

A ``webhook_deliveries`` row is the durable truth about one event sent to one subscription: it is written in the
transaction that made the change (so it exists if and only if the change committed), keeps its id across every
attempt and replay (the ``OmniDesk-Delivery`` header a receiver de-duplicates on), and records each attempt's outcome.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow

DELIVERY_LOG_RETENTION = timedelta(days=30)  # delivered and failed deliveries are purged after this (maintenance)


class DeliveryState:
    PENDING = "pending"  # waiting for its next attempt (``next_attempt_at``)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every scheduled attempt failed, the subscription went away, or a 410 disabled it


class WebhookSubscription(TenantOwned, Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(TenantOwned, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the body's ``data``: fixed at the change, replayed as is
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_status: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_duration_ms: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
