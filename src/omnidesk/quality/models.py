"""Storage models of the quality slice (质检)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class Scorecard(TenantOwned, Base):
    """One version of a tenant's scorecard: its criteria (weights, answer choices, rule settings) frozen.

    Editing writes the next version and retires the previous one (``active``); a score keeps the version it was
    made with, so old scores stay explainable after the criteria change. ``family`` ties the versions together."""

    __tablename__ = "qa_scorecards"
    __table_args__ = (UniqueConstraint("tenant_id", "family", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    family: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaScore(TenantOwned, Base):
    """One scoring of one conversation with one scorecard version, by the automatic scorer (``scorer`` =
    ``auto``) or by an inspector (``scorer`` = their id: calibration). Unique per (conversation, version,
    scorer), which makes the scoring job idempotent. ``answers`` holds one entry per criterion: the answer, the
    points, the evidence (message id and character span) and the suggestion; an override changes the answer and
    keeps the scorer's original beside it."""

    __tablename__ = "qa_scores"
    __table_args__ = (
        UniqueConstraint("conversation_id", "scorecard_id", "scorer"),
        Index("ix_qa_scores_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    scorecard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qa_scorecards.id", ondelete="CASCADE"))
    scorecard_version: Mapped[int] = mapped_column()
    scorer: Mapped[str] = mapped_column(String(40), default="auto")
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    percent: Mapped[float] = mapped_column(default=0.0)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    overridden: Mapped[bool] = mapped_column(default=False)
    appeal_state: Mapped[str] = mapped_column(String(16), default="")  # "", open, upheld, rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaAppeal(TenantOwned, Base):
    """An agent's dispute of an automatic score; a second inspector (not the one who overrode it) decides."""

    __tablename__ = "qa_appeals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    score_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qa_scores.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[uuid.UUID] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    criterion: Mapped[str] = mapped_column(String(64), default="")  # the disputed criterion's key, if one
    state: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class QaNomination(TenantOwned, Base):
    """An agent's own excellent conversation put forward (rewards, not only faults); a supervisor may mark it as
    training material."""

    __tablename__ = "qa_nominations"
    __table_args__ = (UniqueConstraint("conversation_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    nominated_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(String(2000), default="")
    training: Mapped[bool] = mapped_column(default=False)
    marked_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SendPolicy(TenantOwned, Base):
    """The tenant's sensitive-phrase interception: forbidden phrases and patterns (``card``: bank card numbers
    passing Luhn; ``id_card``: PRC resident ID numbers) and what happens to an agent message that has one
    (``mode``: ``block`` refuses it, ``mask`` stores it with the match masked, ``off``)."""

    __tablename__ = "qa_send_policies"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    mode: Mapped[str] = mapped_column(String(8), default="block")
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
