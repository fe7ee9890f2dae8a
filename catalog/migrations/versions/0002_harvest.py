"""Harvest sources, runs, record errors, per-record digests, locks and duplicate links.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "harvest_sources",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "harvest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("harvest_sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text()),
    )
    op.create_index("ix_harvest_runs_source", "harvest_runs", ["source_id", "id"])
    op.create_table(
        "harvest_errors",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("harvest_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("upstream_id", sa.String(500), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_harvest_errors_run", "harvest_errors", ["run_id"])
    op.create_table(
        "harvest_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("harvest_sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("upstream_id", sa.String(500), nullable=False),
        sa.Column("guid", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64)),
        sa.Column("identifier", sa.String(500)),
        sa.Column("landing_page", sa.String(1000)),
        sa.UniqueConstraint("source_id", "upstream_id", name="uq_harvest_record"),
    )
    op.create_index("ix_harvest_records_identifier", "harvest_records", ["identifier"])
    op.create_index("ix_harvest_records_landing_page", "harvest_records", ["landing_page"])
    op.create_table(
        "harvest_locks",
        sa.Column(
            "source_id",
            sa.Integer(),
            sa.ForeignKey("harvest_sources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("run_id", sa.Integer()),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "harvest_duplicates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(200), nullable=False),
        sa.Column("other_guid", sa.String(200), nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("guid", "other_guid", "basis", name="uq_harvest_duplicate"),
    )
    op.create_index("ix_harvest_duplicates_guid", "harvest_duplicates", ["guid"])
    op.create_index("ix_harvest_duplicates_other_guid", "harvest_duplicates", ["other_guid"])


def downgrade() -> None:
    for index, table in (
        ("ix_harvest_duplicates_other_guid", "harvest_duplicates"),
        ("ix_harvest_duplicates_guid", "harvest_duplicates"),
    ):
        op.drop_index(index, table)
    op.drop_table("harvest_duplicates")
    op.drop_table("harvest_locks")
    op.drop_index("ix_harvest_records_landing_page", "harvest_records")
    op.drop_index("ix_harvest_records_identifier", "harvest_records")
    op.drop_table("harvest_records")
    op.drop_index("ix_harvest_errors_run", "harvest_errors")
    op.drop_table("harvest_errors")
    op.drop_index("ix_harvest_runs_source", "harvest_runs")
    op.drop_table("harvest_runs")
    op.drop_table("harvest_sources")
