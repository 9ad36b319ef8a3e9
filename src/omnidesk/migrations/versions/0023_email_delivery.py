"""Outbound delivery of channels that send messages themselves: one delivery row per message

Revision ID: 0023_email_delivery
Revises: 0022_conversation_customer
Create Date: 2026-12-07 21:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_email_delivery"
down_revision: str | None = "0022_conversation_customer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_deliveries",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("channel_message_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_message_deliveries_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_deliveries")),
    )
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_message_deliveries_conversation", ["conversation_id"], unique=False)
        batch_op.create_index(
            "ix_message_deliveries_provider_id", ["tenant_id", "channel", "channel_message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_message_deliveries_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("message_deliveries")
