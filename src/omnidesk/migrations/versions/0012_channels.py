"""Channels: the channel's own id of each stored message (idempotent intake, threading) and the raw payload

Revision ID: 0012_channels
Revises: 0010_import_jobs
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_channels"
down_revision: str | None = "0011_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5_000


def upgrade() -> None:
    op.create_table(
        "channel_messages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_message_id", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_channel_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "channel", "channel_message_id", name=op.f("pk_channel_messages")),
    )
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.create_index("ix_channel_messages_conversation_id", ["conversation_id"], unique=False)
    _backfill()


def _backfill() -> None:
    """Customer messages stored with a ``client_id`` before this revision get the channel id the widget now uses
    (``<conversation>:<client_id>``), so that a resend of one of them is still answered with it."""
    bind = op.get_bind()
    conversations = sa.table("conversations", sa.column("id", sa.Uuid()), sa.column("channel", sa.String()))
    messages = sa.table(
        "messages",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("conversation_id", sa.Uuid()),
        sa.column("sender_type", sa.String()),
        sa.column("client_id", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    target = sa.table(
        "channel_messages",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("channel", sa.String()),
        sa.column("channel_message_id", sa.String()),
        sa.column("direction", sa.String()),
        sa.column("conversation_id", sa.Uuid()),
        sa.column("message_id", sa.Uuid()),
        sa.column("raw", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(
            messages.c.id,
            messages.c.tenant_id,
            messages.c.conversation_id,
            messages.c.client_id,
            messages.c.created_at,
            conversations.c.channel,
        )
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(messages.c.sender_type == "customer", messages.c.client_id.is_not(None))
    ).all()
    for start in range(0, len(rows), _BATCH):
        chunk = rows[start : start + _BATCH]
        bind.execute(
            sa.insert(target),
            [
                {
                    "tenant_id": r.tenant_id,
                    "channel": r.channel,
                    "channel_message_id": f"{r.conversation_id}:{r.client_id}",
                    "direction": "in",
                    "conversation_id": r.conversation_id,
                    "message_id": r.id,
                    "raw": None,
                    "created_at": r.created_at,
                }
                for r in chunk
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("channel_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_messages_conversation_id")
    op.drop_table("channel_messages")
