"""Storage models of the conversations slice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class Conversation(TenantOwned, Base):
    """One exchange with a customer on one channel, from first message to resolution."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_conversations_tenant_status", "tenant_id", "status"),
        # A customer's conversations (the widget's every request): led by the tenant like every query's criteria,
        # or SQLite (no statistics) walks the whole tenant by one of the indexes above.
        Index("ix_conversations_tenant_customer", "tenant_id", "customer_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), default=None, index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    tags: Mapped[list[str]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(default=None)
    snoozed_until: Mapped[datetime | None] = mapped_column(default=None)
    # When it was last resolved (reports: resolution time); meaningful while ``status`` is resolved.
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Message(TenantOwned, Base):
    """One message or internal note; ``seq`` orders it stably within its conversation."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    sender_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    internal: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelMessage(TenantOwned, Base):
    """The channel's own id of a stored message (and, for an inbound one, the payload as received).

    Inbound, the primary key ``(tenant_id, channel, channel_message_id)`` makes storing idempotent: a redelivered
    webhook or a widget resend finds the message here. Either way, a later message that replies to this id (an
    e-mail's ``In-Reply-To``) finds its conversation here. One row per customer message, written in the intake's
    batch: hence the natural key and the one other index (for the conversation's cascade), nothing more.
    """

    __tablename__ = "channel_messages"
    __table_args__ = (Index("ix_channel_messages_conversation_id", "conversation_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), default="in")
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # Not a foreign key: messages go only with their conversation, whose cascade takes these rows too.
    message_id: Mapped[uuid.UUID] = mapped_column()
    raw: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRating(TenantOwned, Base):
    """The customer's rating of a conversation (1–5 and a comment); one per conversation, the latest wins."""

    __tablename__ = "conversation_ratings"
    __table_args__ = (UniqueConstraint("conversation_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReadMarker(TenantOwned, Base):
    """How far one side (``customer`` or ``agent``) has received and read a conversation, by message ``seq``.

    Markers only move forward, so a late or repeated receipt never makes a message look unread again.
    """

    __tablename__ = "conversation_read_markers"
    __table_args__ = (UniqueConstraint("conversation_id", "party"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    party: Mapped[str] = mapped_column(String(16))
    delivered_seq: Mapped[int] = mapped_column(default=0)
    read_seq: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedResponse(TenantOwned, Base):
    """A reply an agent inserts with a shortcut; ``{customer_name}`` and ``{agent_name}`` are filled in."""

    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "shortcut"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    shortcut: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
