"""Published shifts of the workforce slice

Revision ID: 0029_wfm_shifts
Revises: 0028_analytics_intervals
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_wfm_shifts"
down_revision: str | None = "0028_analytics_intervals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wfm_shifts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("break_minute", sa.Integer(), nullable=True),
        sa.Column("break_length", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_wfm_shifts_staff_id_staff_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wfm_shifts")),
    )
    with op.batch_alter_table("wfm_shifts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wfm_shifts_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_wfm_shifts_tenant_day", ["tenant_id", "day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wfm_shifts", schema=None) as batch_op:
        batch_op.drop_index("ix_wfm_shifts_tenant_day")
        batch_op.drop_index(batch_op.f("ix_wfm_shifts_tenant_id"))
    op.drop_table("wfm_shifts")
