"""Case numbers and bitmap release membership: a release stores which case numbers it holds, not a row per case.

Every case gets its number in its dataset (by case id, from 0), the counter of each dataset is kept in
``consent_case_numbers``, and each release's ``consent_release_members`` rows become bitmap rows in
``consent_release_chunks`` (see :mod:`consent.membership`); the per-case table is then dropped, and so is
the withdrawal items' index by release (their notice names the release). Release
pseudonyms are recomputed from the case id with the release's own secret whenever they are needed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

from consent.database import append_only_ddl
from consent.membership import MembershipBuilder, chunk_rows

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHUNKS = sa.table(
    "consent_release_chunks", sa.column("release_id"), sa.column("chunk"), sa.column("bits", sa.LargeBinary())
)

# Cases without a number get the next ones of their dataset, by case id.
_NUMBERED = """
    SELECT {key}, coalesce(top.no, -1) + row_number() OVER (PARTITION BY c.dataset ORDER BY c.case_id) AS no
    FROM consent_cases c
    LEFT JOIN (SELECT dataset, max(case_no) AS no FROM consent_cases GROUP BY dataset) top ON top.dataset = c.dataset
    WHERE c.case_no IS NULL"""
_NUMBER_SQLITE = (
    "UPDATE consent_cases SET case_no = n.no FROM ("
    + _NUMBERED.format(key="c.rowid AS rid")
    + ") n WHERE consent_cases.rowid = n.rid"
)
_NUMBER_POSTGRESQL = (
    "UPDATE consent_cases u SET case_no = n.no FROM ("
    + _NUMBERED.format(key="c.dataset, c.case_id")
    + ") n WHERE u.dataset = n.dataset AND u.case_id = n.case_id"
)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    # Each step checks first: a database stamped from create_all may hold some of this already.
    if "consent_case_numbers" not in tables:
        op.create_table(
            "consent_case_numbers",
            sa.Column("dataset", sa.String(length=200), nullable=False),
            sa.Column("next_case_no", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("dataset"),
        )
    if "case_no" not in {c["name"] for c in inspector.get_columns("consent_cases")}:
        op.add_column("consent_cases", sa.Column("case_no", sa.BigInteger(), nullable=True))
    op.execute(_NUMBER_POSTGRESQL if bind.dialect.name == "postgresql" else _NUMBER_SQLITE)
    op.execute("DELETE FROM consent_case_numbers")
    op.execute(
        "INSERT INTO consent_case_numbers (dataset, next_case_no) "
        "SELECT dataset, max(case_no) + 1 FROM consent_cases GROUP BY dataset"
    )
    if "ux_consent_cases_dataset_case_no" not in {ix["name"] for ix in inspector.get_indexes("consent_cases")}:
        op.create_index("ux_consent_cases_dataset_case_no", "consent_cases", ["dataset", "case_no"], unique=True)
    if "consent_release_chunks" not in tables:
        op.create_table(
            "consent_release_chunks",
            sa.Column("release_id", sa.String(length=200), nullable=False),
            sa.Column("chunk", sa.Integer(), nullable=False),
            sa.Column("bits", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("release_id", "chunk"),
        )
    if "consent_release_members" in tables:
        releases = bind.execute(sa.text("SELECT release_id, dataset FROM consent_releases ORDER BY release_id")).all()
        for release_id, dataset in releases:
            numbers = bind.execute(
                sa.text(
                    "SELECT c.case_no FROM consent_release_members m JOIN consent_cases c "
                    "ON c.dataset = :dataset AND c.case_id = m.case_id WHERE m.release_id = :release"
                ),
                {"dataset": dataset, "release": release_id},
            ).scalars()
            found = np.fromiter(numbers, dtype=np.int64)
            builder = MembershipBuilder(int(found.max()) + 1 if len(found) else 1)
            builder.add(found)
            rows = chunk_rows(release_id, builder)
            if rows:
                insert = (
                    "INSERT INTO consent_release_chunks (release_id, chunk, bits) VALUES (:release_id, :chunk, :bits)"
                )
                bind.execute(sa.text(insert), rows)
        op.drop_index("ix_consent_release_members_subject_cover", table_name="consent_release_members", if_exists=True)
        op.drop_table("consent_release_members")
    # A notice names one release: its items are found through it, and a second index only slowed inserts.
    # (A database stamped at an earlier revision may already be past 0008, which drops the items table.)
    if "consent_withdrawal_items" in inspector.get_table_names() and "ix_consent_withdrawal_items_release" in {
        ix["name"] for ix in inspector.get_indexes("consent_withdrawal_items")
    }:
        op.drop_index("ix_consent_withdrawal_items_release", table_name="consent_withdrawal_items")
    for statement in append_only_ddl(bind.dialect.name, ("consent_release_chunks",)):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0005 folded each release's per-case membership rows into bitmaps and cannot be undone; "
        "restore the backup taken before the upgrade (fairgate consent backup) to go back"
    )
