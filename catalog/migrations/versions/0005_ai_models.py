"""AI-model entries (issue 18, seed 004): models, their append-only revisions and their training datasets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ai_models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(200), nullable=False, unique=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sharing_class", sa.String(40), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_ai_models_sharing_class", "ai_models", ["sharing_class"])
    op.create_table(
        "ai_model_revisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_guid", sa.String(200), sa.ForeignKey("ai_models.guid", ondelete="RESTRICT"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("activity", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("model_guid", "number", name="uq_ai_model_revision_number"),
    )
    op.create_index("ix_ai_model_revisions_guid", "ai_model_revisions", ["model_guid"])
    # The lineage, one row per (model, training dataset): "models trained on this dataset" is an index probe.
    op.create_table(
        "ai_model_training",
        sa.Column("model_guid", sa.String(200), sa.ForeignKey("ai_models.guid", ondelete="CASCADE"), nullable=False),
        sa.Column("dataset_guid", sa.String(200), sa.ForeignKey("datasets.guid", ondelete="RESTRICT"), nullable=False),
        sa.PrimaryKeyConstraint("model_guid", "dataset_guid", name="pk_ai_model_training"),
    )
    op.create_index("ix_ai_model_training_dataset", "ai_model_training", ["dataset_guid"])


def downgrade() -> None:
    op.drop_index("ix_ai_model_training_dataset", "ai_model_training")
    op.drop_table("ai_model_training")
    op.drop_index("ix_ai_model_revisions_guid", "ai_model_revisions")
    op.drop_table("ai_model_revisions")
    op.drop_index("ix_ai_models_sharing_class", "ai_models")
    op.drop_table("ai_models")
