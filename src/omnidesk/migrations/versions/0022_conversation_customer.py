"""A customer's conversations by (tenant, customer, created): the widget's lookups stop walking the whole tenant

Revision ID: 0022_conversation_customer
Revises: 0021_widget_forms
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_conversation_customer"
down_revision: str | None = "0021_widget_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_tenant_customer", "conversations", ["tenant_id", "customer_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_tenant_customer", table_name="conversations")
