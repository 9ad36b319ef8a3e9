"""Jobs that must not run in parallel: a serial (one at a time per tenant and serial, in serial_seq order)

Revision ID: 0018_job_serials
Revises: 0017_contact_merge
Create Date: 2026-12-07 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_job_serials"
down_revision: str | None = "0017_contact_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("serial", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("serial_seq", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_jobs_tenant_serial", ["tenant_id", "serial", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_tenant_serial")
        batch_op.drop_column("serial_seq")
        batch_op.drop_column("serial")
