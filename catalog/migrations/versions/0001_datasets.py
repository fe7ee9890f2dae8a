"""Datasets and their append-only revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(200), nullable=False, unique=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("tombstone_reason", sa.Text()),
        sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
        sa.Column("source_guid", sa.String(200)),
        sa.Column("upstream_id", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_datasets_source_guid", "datasets", ["source_guid"])
    op.create_table(
        "dataset_revisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "dataset_guid",
            sa.String(200),
            sa.ForeignKey("datasets.guid", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("activity", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dataset_guid", "number", name="uq_revision_number"),
    )
    op.create_index("ix_revision_guid", "dataset_revisions", ["dataset_guid"])


def downgrade() -> None:
    op.drop_index("ix_revision_guid", "dataset_revisions")
    op.drop_table("dataset_revisions")
    op.drop_index("ix_datasets_source_guid", "datasets")
    op.drop_table("datasets")
