"""Quality inspection: versioned scorecards, scores, appeals, nominations, sensitive-phrase send policies

Revision ID: 0027_qa_quality
Revises: 0026_routing_acd
Create Date: 2026-12-07 21:02:24.538426
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_qa_quality"
down_revision: str | None = "0026_routing_acd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qa_scorecards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("family", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scorecards")),
        sa.UniqueConstraint("tenant_id", "family", "version", name=op.f("uq_qa_scorecards_tenant_id_family_version")),
    )
    with op.batch_alter_table("qa_scorecards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_scorecards_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "qa_send_policies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("phrases", sa.JSON(), nullable=False),
        sa.Column("patterns", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_send_policies")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_qa_send_policies_tenant_id")),
    )
    with op.batch_alter_table("qa_send_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_send_policies_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "qa_nominations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("nominated_by", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("training", sa.Boolean(), nullable=False),
        sa.Column("marked_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_qa_nominations_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_nominations")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_qa_nominations_conversation_id")),
    )
    with op.batch_alter_table("qa_nominations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_nominations_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "qa_scores",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("scorecard_id", sa.Uuid(), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("scorer", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("percent", sa.Double(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("appeal_state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_qa_scores_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["qa_scorecards.id"],
            name=op.f("fk_qa_scores_scorecard_id_qa_scorecards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scores")),
        sa.UniqueConstraint(
            "conversation_id", "scorecard_id", "scorer", name=op.f("uq_qa_scores_conversation_id_scorecard_id_scorer")
        ),
    )
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_scores_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index("ix_qa_scores_tenant_created", ["tenant_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_qa_scores_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "qa_appeals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("score_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["score_id"], ["qa_scores.id"], name=op.f("fk_qa_appeals_score_id_qa_scores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_appeals")),
    )
    with op.batch_alter_table("qa_appeals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_appeals_score_id"), ["score_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_qa_appeals_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("qa_appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_appeals_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_qa_appeals_score_id"))

    op.drop_table("qa_appeals")
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_scores_tenant_id"))
        batch_op.drop_index("ix_qa_scores_tenant_created")
        batch_op.drop_index(batch_op.f("ix_qa_scores_agent_id"))

    op.drop_table("qa_scores")
    with op.batch_alter_table("qa_nominations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_nominations_tenant_id"))

    op.drop_table("qa_nominations")
    with op.batch_alter_table("qa_send_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_send_policies_tenant_id"))

    op.drop_table("qa_send_policies")
    with op.batch_alter_table("qa_scorecards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_scorecards_tenant_id"))

    op.drop_table("qa_scorecards")
