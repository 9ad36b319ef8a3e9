"""Storage models of the assistant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class BotConfig(TenantOwned, Base):
    """One version of a tenant's assistant settings (a validated ``BotSettings`` document); the newest is live."""

    __tablename__ = "bot_configs"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column()
    document: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntentExample(TenantOwned, Base):
    """An example utterance of an intent, written by the tenant (FAQ variants are added at training time)."""

    __tablename__ = "bot_intent_examples"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(String(60), index=True)
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntentModel(TenantOwned, Base):
    """A trained intent classifier, versioned; exactly one version per tenant is active (rollback = activate).

    ``policy`` is its decision policy (:mod:`omnidesk.bot.nlu.answer_policy`): the operating points chosen from
    the tenant's own data at training time, each with its thresholds and the answer / clarify / decline rates it
    is expected to give, and which one is in use (the admin may move it).
    """

    __tablename__ = "bot_intent_models"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="training")
    active: Mapped[bool] = mapped_column(default=False)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    labels: Mapped[list[str]] = mapped_column(default=list)
    examples: Mapped[int] = mapped_column(default=0)
    train_seconds: Mapped[float] = mapped_column(default=0.0)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    # the operating point in use: the wrong-answer share it aims at (None: the default point)
    answer_target: Mapped[float | None] = mapped_column(default=None)
    # False: the admin reviews the expected rates and activates it (the console trains this way)
    activate_when_ready: Mapped[bool] = mapped_column(default=True, server_default=true())
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class BotConversation(TenantOwned, Base):
    """The assistant's memory of one conversation: who holds it and the running flow / low-confidence count."""

    __tablename__ = "bot_conversations"
    __table_args__ = (UniqueConstraint("conversation_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    handled_by: Mapped[str] = mapped_column(String(8), default="bot")
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnansweredQuestion(TenantOwned, Base):
    """A customer question the assistant could not answer confidently: the raw material of knowledge gaps."""

    __tablename__ = "bot_unanswered"
    __table_args__ = (Index("ix_bot_unanswered_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(String(1000))
    normalized: Mapped[str] = mapped_column(String(1000))
    language: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(60))
    confidence: Mapped[float] = mapped_column(default=0.0)
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "" while it is a gap; "accepted" (an FAQ draft was written for it) or "rejected" once someone decided.
    resolution: Mapped[str] = mapped_column(String(16), default="", server_default="")


class FaqSuggestion(TenantOwned, Base):
    """A question / answer pair taken from a conversation a person resolved, waiting for a knowledge manager."""

    __tablename__ = "bot_faq_suggestions"
    __table_args__ = (UniqueConstraint("tenant_id", "conversation_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column()
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
