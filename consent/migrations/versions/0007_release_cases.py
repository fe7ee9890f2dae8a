"""Per-case membership for releases of up to a million cases (``consent_release_cases``), beside the bitmaps.

A refusal against bitmaps alone read one run of every active release of its dataset for each of its
person's cases: 64 opt-outs against 1,000 releases cost 2.3 s on PostgreSQL. Releases up to
``consent.membership.PER_CASE_UP_TO`` cases now keep a row per case keyed by the case, found by index, and
name their release by a short number (``consent_releases.release_no``); releases already stored as bitmaps
stay so (the read path takes both).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from consent.database import append_only_ddl

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "release_no" not in {c["name"] for c in inspector.get_columns("consent_releases")}:
        op.add_column("consent_releases", sa.Column("release_no", sa.Integer(), nullable=True))
        op.create_index("ux_consent_releases_release_no", "consent_releases", ["release_no"], unique=True)
    if "consent_release_cases" not in inspector.get_table_names():
        op.create_table(
            "consent_release_cases",
            sa.Column("dataset_key", sa.Integer(), nullable=False),
            sa.Column("case_no", sa.BigInteger(), nullable=False),
            sa.Column("release_no", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("dataset_key", "case_no", "release_no"),
            sqlite_with_rowid=False,
        )
    for statement in append_only_ddl(bind.dialect.name, ("consent_release_cases",)):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("consent_release_cases")
    op.drop_index("ux_consent_releases_release_no", table_name="consent_releases")
    op.drop_column("consent_releases", "release_no")
