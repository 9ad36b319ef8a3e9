"""Tenant secrets: per-tenant credentials for outside systems, sealed with a purpose-derived key

Revision ID: 0007_tenant_secrets
Revises: 0006_live
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tenant_secrets"
down_revision: str | None = "0006_live"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_secrets")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_tenant_secrets_tenant_id_name")),
    )
    with op.batch_alter_table("tenant_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tenant_secrets_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tenant_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_secrets_tenant_id"))
    op.drop_table("tenant_secrets")
