"""The widget's pre-chat form (tenant-configured fields) and offline form choice

Revision ID: 0021_widget_forms
Revises: 0020_ticket_macros
Create Date: 2026-12-07 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_widget_forms"
down_revision: str | None = "0020_ticket_macros"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("widget_configs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prechat", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("offline_form", sa.String(length=16), nullable=False, server_default="off"))


def downgrade() -> None:
    with op.batch_alter_table("widget_configs", schema=None) as batch_op:
        batch_op.drop_column("offline_form")
        batch_op.drop_column("prechat")
