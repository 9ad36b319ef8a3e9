"""Storage models of the routing slice. Everything routing decides is stored, so a restart loses no assignment."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class AgentPresence(TenantOwned, Base):
    """An agent's chosen state (online / away / offline) and when they were last offered work (round robin)."""

    __tablename__ = "agent_presence"
    __table_args__ = (UniqueConstraint("staff_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="offline")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_offered_at: Mapped[datetime | None] = mapped_column(default=None)


class QueueEntry(TenantOwned, Base):
    """A conversation waiting for a person: ``waiting`` → ``offered`` (to one agent, until a deadline) →
    ``assigned``; an offer not accepted in time goes back to ``waiting``. ``cancelled`` when resolved first."""

    __tablename__ = "routing_queue"
    __table_args__ = (
        UniqueConstraint("conversation_id"),
        Index("ix_routing_queue_tenant_state", "tenant_id", "state", "waiting_since"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    waiting_since: Mapped[datetime] = mapped_column(default=utcnow)
    offered_to: Mapped[uuid.UUID | None] = mapped_column(default=None)
    offer_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    declined_by: Mapped[list[str]] = mapped_column(default=list)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class RoutingPolicy(TenantOwned, Base):
    """A tenant's routing settings: the strategy and how long an agent has to accept an offer."""

    __tablename__ = "routing_policies"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    strategy: Mapped[str] = mapped_column(String(32), default="round_robin")
    accept_timeout_seconds: Mapped[int] = mapped_column(default=60)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
