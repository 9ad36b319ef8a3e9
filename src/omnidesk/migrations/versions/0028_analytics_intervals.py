"""Analytics: per-conversation facts, interval tables, the tenant's analytics settings and agents' goals

Revision ID: 0028_analytics_intervals
Revises: 0027_qa_quality
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0028_analytics_intervals"
down_revision: str | None = "0027_qa_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INTS = ("conversations", "first_responses", "queued", "answered", "abandoned", "handled", "resolved",
         "bot_conversations", "bot_contained", "people_handled", "transferred", "fcr", "csat_ratings",
         "csat_satisfied", "sla_base", "sla_met")  # fmt: skip
_FLOATS = ("first_response_seconds", "wait_seconds", "handle_seconds", "resolution_seconds")


def _counters() -> list[sa.Column[Any]]:
    return [sa.Column(n, sa.Integer(), nullable=False) for n in _INTS] + [
        sa.Column(n, sa.Double(), nullable=False) for n in _FLOATS
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_facts",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quarter_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index("ix_analytics_facts_tenant_day", "analytics_facts", ["tenant_id", "day_start"])
    op.create_index("ix_analytics_facts_tenant_id", "analytics_facts", ["tenant_id"])
    op.create_table(
        "analytics_intervals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("grain", sa.String(4), nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("tenant_id", "grain", "dimension", "bucket_start", "value"),
    )
    op.create_index(
        "ix_analytics_intervals_read", "analytics_intervals", ["tenant_id", "grain", "dimension", "bucket_start"]
    )
    op.create_table(
        "analytics_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("fcr_hours", sa.Integer(), nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("service_level_target", sa.Integer(), nullable=False),
        sa.Column("alert_waiting", sa.Integer(), nullable=False),
        sa.Column("alert_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("ranking_enabled", sa.Boolean(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id"),
    )
    op.create_index("ix_analytics_settings_tenant_id", "analytics_settings", ["tenant_id"])
    op.create_table(
        "analytics_goals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("target", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "staff_id", "metric", "month"),
    )
    op.create_index("ix_analytics_goals_tenant_id", "analytics_goals", ["tenant_id"])


def downgrade() -> None:
    for table in ("analytics_goals", "analytics_settings", "analytics_intervals", "analytics_facts"):
        op.drop_table(table)
