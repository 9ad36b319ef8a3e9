"""Storage models of the analytics slice: per-conversation facts, the interval tables summed from them, and the
tenant's analytics settings and agents' goals. Facts and intervals are derived data: the rollup job
(``analytics/rollup.py``) deletes and rewrites a whole local day at a time, so rerunning it gives the same rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.core.db import Base, TenantOwned, utcnow


class _Counters:
    """The additive counters of ``analytics.metrics.Counters``, one column each."""

    conversations: Mapped[int] = mapped_column(default=0)
    first_responses: Mapped[int] = mapped_column(default=0)
    first_response_seconds: Mapped[float] = mapped_column(default=0.0)
    queued: Mapped[int] = mapped_column(default=0)
    answered: Mapped[int] = mapped_column(default=0)
    wait_seconds: Mapped[float] = mapped_column(default=0.0)
    abandoned: Mapped[int] = mapped_column(default=0)
    handled: Mapped[int] = mapped_column(default=0)
    handle_seconds: Mapped[float] = mapped_column(default=0.0)
    resolved: Mapped[int] = mapped_column(default=0)
    resolution_seconds: Mapped[float] = mapped_column(default=0.0)
    bot_conversations: Mapped[int] = mapped_column(default=0)
    bot_contained: Mapped[int] = mapped_column(default=0)
    people_handled: Mapped[int] = mapped_column(default=0)
    transferred: Mapped[int] = mapped_column(default=0)
    fcr: Mapped[int] = mapped_column(default=0)
    csat_ratings: Mapped[int] = mapped_column(default=0)
    csat_satisfied: Mapped[int] = mapped_column(default=0)
    sla_base: Mapped[int] = mapped_column(default=0)
    sla_met: Mapped[int] = mapped_column(default=0)


class ConversationFact(_Counters, TenantOwned, Base):
    """What one conversation counts towards every metric, with its buckets and dimensions (drill-down reads it)."""

    __tablename__ = "analytics_facts"
    __table_args__ = (Index("ix_analytics_facts_tenant_day", "tenant_id", "day_start"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column()
    day_start: Mapped[datetime] = mapped_column()
    hour_start: Mapped[datetime] = mapped_column()
    quarter_start: Mapped[datetime] = mapped_column()
    channel: Mapped[str] = mapped_column(String(32), default="")
    team: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(String(64), default="")
    intent: Mapped[str] = mapped_column(String(64), default="")


class Interval(_Counters, TenantOwned, Base):
    """The counters summed per bucket (``15m`` / ``1h`` / ``1d``, local hours and days as UTC instants) and per
    dimension value (``tenant`` with value ``""``, ``team``, ``agent``, ``channel``, ``intent``)."""

    __tablename__ = "analytics_intervals"
    __table_args__ = (Index("ix_analytics_intervals_read", "tenant_id", "grain", "dimension", "bucket_start"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grain: Mapped[str] = mapped_column(String(4), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)


class AnalyticsSettings(TenantOwned, Base):
    """A tenant's analytics choices (FCR window, service-level target, ranking, wallboard alerts) and the rollup's
    watermark: changes after it are what the next rollup looks at."""

    __tablename__ = "analytics_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    fcr_hours: Mapped[int] = mapped_column(default=24)
    service_level_seconds: Mapped[int] = mapped_column(default=30)
    service_level_target: Mapped[int] = mapped_column(default=80)
    alert_waiting: Mapped[int] = mapped_column(default=10)
    alert_wait_seconds: Mapped[int] = mapped_column(default=120)
    ranking_enabled: Mapped[bool] = mapped_column(default=False)
    watermark: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Goal(TenantOwned, Base):
    """A supervisor's monthly target for one agent and one metric (e.g. 600 conversations in 2026-03); the
    dashboard breaks it into a daily target over the month's working days (Monday to Friday)."""

    __tablename__ = "analytics_goals"
    __table_args__ = (UniqueConstraint("tenant_id", "staff_id", "metric", "month"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    staff_id: Mapped[uuid.UUID] = mapped_column()
    metric: Mapped[str] = mapped_column(String(32))
    month: Mapped[str] = mapped_column(String(7))
    target: Mapped[float] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
