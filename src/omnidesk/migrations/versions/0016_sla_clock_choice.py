"""SLA policies choose their clock: business hours (the tenant's calendar) or calendar time (24 × 7); each clock
remembers the choice it was started with

Revision ID: 0016_sla_clock_choice
Revises: 0015_staff_skills
Create Date: 2026-12-07 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_sla_clock_choice"
down_revision: str | None = "0015_staff_skills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("business_hours", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("business_hours", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_column("business_hours")
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_column("business_hours")
