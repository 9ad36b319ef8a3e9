"""Routing (ACD): queues with steps, proficiency per skill, the queue entry's requirements and trace, callbacks

Revision ID: 0026_routing_acd
Revises: 0025_messaging_channels
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_routing_acd"
down_revision: str | None = "0025_messaging_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_queues",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("selection", sa.String(length=32), nullable=False),
        sa.Column("overflow_queue_id", sa.Uuid(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("sticky_seconds", sa.Integer(), nullable=False),
        sa.Column("aging_seconds", sa.Integer(), nullable=False),
        sa.Column("callback_threshold_seconds", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_routing_queues_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_queues")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_routing_queues_tenant_id_name")),
    )
    with op.batch_alter_table("routing_queues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_queues_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "routing_callbacks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("expected_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_routing_callbacks_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_callbacks")),
    )
    with op.batch_alter_table("routing_callbacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_callbacks_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("skill_levels", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("agent_presence") as batch:
        batch.add_column(sa.Column("missed_offers", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("routing_policies") as batch:
        batch.add_column(sa.Column("missed_offers_limit", sa.Integer(), nullable=False, server_default="3"))
        batch.add_column(sa.Column("reoffer_unanswered_minutes", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("routing_queue") as batch:
        batch.add_column(sa.Column("queue_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("requirements", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("previous_agent_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=32), nullable=False, server_default="chat"))
        batch.add_column(sa.Column("last_trace", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.create_foreign_key(
            op.f("fk_routing_queue_queue_id_routing_queues"),
            "routing_queues",
            ["queue_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("routing_queue") as batch:
        batch.drop_constraint(op.f("fk_routing_queue_queue_id_routing_queues"), type_="foreignkey")
        for column in ("last_trace", "channel", "previous_agent_id", "requirements", "queued_at", "queue_id"):
            batch.drop_column(column)
    with op.batch_alter_table("routing_policies") as batch:
        batch.drop_column("reoffer_unanswered_minutes")
        batch.drop_column("missed_offers_limit")
    with op.batch_alter_table("agent_presence") as batch:
        batch.drop_column("missed_offers")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("skill_levels")
    op.drop_table("routing_callbacks")
    op.drop_table("routing_queues")
