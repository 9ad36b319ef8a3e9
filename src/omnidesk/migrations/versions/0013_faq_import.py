"""The assistant's decision policy: each trained intent model keeps its operating points (thresholds chosen from
the tenant's own data, with the answer / clarify / decline rates they are expected to give) and the one in use

Revision ID: 0013_faq_import
Revises: 0012_channels
Create Date: 2026-12-07 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_faq_import"
down_revision: str | None = "0012_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bot_intent_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("answer_target", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("activate_when_ready", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("bot_intent_models", schema=None) as batch_op:
        batch_op.drop_column("activate_when_ready")
        batch_op.drop_column("answer_target")
        batch_op.drop_column("policy")
