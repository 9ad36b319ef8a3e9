"""Skills per agent: staff_users.skills (a JSON list), edited on the staff console's Teams & skills page

Revision ID: 0015_staff_skills
Revises: 0014_webhooks
Create Date: 2026-12-07 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_staff_skills"
down_revision: str | None = "0014_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("skills", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("skills")
