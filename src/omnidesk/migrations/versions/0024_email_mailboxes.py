"""The e-mail channel's mailboxes: inbound address (unique platform-wide), From, SMTP relay, DKIM selector

Revision ID: 0024_email_mailboxes
Revises: 0023_email_delivery
Create Date: 2026-12-07 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_email_mailboxes"
down_revision: str | None = "0023_email_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_mailboxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("inbound_address", sa.String(length=254), nullable=False),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("smtp_host", sa.String(length=253), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(length=16), nullable=False),
        sa.Column("smtp_username", sa.String(length=254), nullable=False),
        sa.Column("dkim_selector", sa.String(length=63), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_mailboxes")),
        sa.UniqueConstraint("inbound_address", name=op.f("uq_email_mailboxes_inbound_address")),
    )
    with op.batch_alter_table("email_mailboxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_mailboxes_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("email_mailboxes")
