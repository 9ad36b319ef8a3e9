"""Provider channels (WhatsApp, Telegram, SMS, …): one account per provider and tenant

Revision ID: 0025_messaging_channels
Revises: 0024_email_mailboxes
Create Date: 2026-12-07 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_messaging_channels"
down_revision: str | None = "0024_email_mailboxes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_channels")),
        sa.UniqueConstraint("tenant_id", "provider", name=op.f("uq_provider_channels_tenant_id_provider")),
    )
    with op.batch_alter_table("provider_channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provider_channels_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("provider_channels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_channels_tenant_id"))
    op.drop_table("provider_channels")
