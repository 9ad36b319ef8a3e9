"""Storage models of the routing slice. Everything routing decides is stored, so a restart loses no assignment."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
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
    # Offers let lapse in a row; at the tenant's limit the agent is set away (a lapse costs the customer a wait).
    missed_offers: Mapped[int] = mapped_column(default=0)


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
    # ACD: the queue it waits in (None: the tenant's default), since when (the steps restart on a move), what the
    # contact needs (skills, raised priority, why), the customer's previous agent, the channel (capacity cost).
    queue_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("routing_queues.id", ondelete="SET NULL"), default=None
    )
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    requirements: Mapped[dict[str, Any]] = mapped_column(default=dict)
    previous_agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    channel: Mapped[str] = mapped_column(String(32), default="chat")
    # The last routing decision's trace (step, agents considered, why rejected, why chosen): for supervisors.
    last_trace: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class RoutingPolicy(TenantOwned, Base):
    """A tenant's routing settings: the strategy and how long an agent has to accept an offer."""

    __tablename__ = "routing_policies"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    strategy: Mapped[str] = mapped_column(String(32), default="round_robin")
    accept_timeout_seconds: Mapped[int] = mapped_column(default=60)
    # Missed offers in a row before an agent is set away automatically (0: never).
    missed_offers_limit: Mapped[int] = mapped_column(default=3)
    # An accepted chat with no agent reply for this many minutes goes back to the queue (0: never).
    reoffer_unanswered_minutes: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingQueue(TenantOwned, Base):
    """A queue (技能组) of the ACD: its members (a team, or everyone), required skills, widening steps, agent
    selection, overflow queue and whether it is paused. Steps are ``[{min_proficiency, timeout_seconds,
    overflow}]``; see ``routing.engine``."""

    __tablename__ = "routing_queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    skills: Mapped[list[str]] = mapped_column(default=list)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    selection: Mapped[str] = mapped_column(String(32), default="longest_idle")
    overflow_queue_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    paused: Mapped[bool] = mapped_column(default=False)
    sticky_seconds: Mapped[int] = mapped_column(default=0)
    aging_seconds: Mapped[int] = mapped_column(default=60)
    callback_threshold_seconds: Mapped[int] = mapped_column(default=0)
    is_default: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallbackRequest(TenantOwned, Base):
    """A customer who chose to be called back instead of waiting (offered when the expected wait is long)."""

    __tablename__ = "routing_callbacks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    queue_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    phone: Mapped[str] = mapped_column(String(32), default="")
    expected_wait_seconds: Mapped[int | None] = mapped_column(default=None)
    state: Mapped[str] = mapped_column(String(16), default="requested")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
