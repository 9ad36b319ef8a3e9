"""Ticket macros: a named set of ticket actions an agent applies in one click

Revision ID: 0020_ticket_macros
Revises: 0019_assist_console
Create Date: 2026-12-07 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_ticket_macros"
down_revision: str | None = "0019_assist_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_macros",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_macros")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_ticket_macros_tenant_id_name")),
    )
    with op.batch_alter_table("ticket_macros", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_macros_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_macros", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_macros_tenant_id"))
    op.drop_table("ticket_macros")
