"""Knowledge gaps can be accepted or rejected on the assistant console: a decided question is not shown again

Revision ID: 0019_assist_console
Revises: 0018_job_serials
Create Date: 2026-12-07 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_assist_console"
down_revision: str | None = "0018_job_serials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bot_unanswered", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.String(length=16), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("bot_unanswered", schema=None) as batch_op:
        batch_op.drop_column("resolution")
