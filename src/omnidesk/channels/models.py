"""Storage models shared by the channels that deliver messages themselves (everything but the widget)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class MessageDelivery(TenantOwned, Base):
    """How far an outbound message got on its channel: ``queued`` (written with the message, retried with
    back-off), ``sent`` (the provider took it; ``channel_message_id`` is its id) or ``failed`` (``error`` says
    why: the provider refused, the retries ran out, or the message bounced later)."""

    __tablename__ = "message_deliveries"
    __table_args__ = (
        Index("ix_message_deliveries_conversation", "conversation_id"),
        # A bounce names the provider's id of what came back.
        Index("ix_message_deliveries_provider_id", "tenant_id", "channel", "channel_message_id"),
    )

    # One delivery per message: the message id is the key (the writer queues at most one per message).
    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    channel_message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
