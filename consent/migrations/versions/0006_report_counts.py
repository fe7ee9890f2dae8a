"""Table 7's counts kept per append (``consent_report_counts``), filled from the ledger as it stands.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from consent.report_counts import FILL

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "consent_report_counts" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "consent_report_counts",
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("overall", sa.Boolean(), nullable=False),
        sa.Column("institution", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subjects", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("slot", "overall", "institution", "kind"),
    )
    # One grouping of the ledger (the report's old query, kept once): appends from here on keep it exact.
    op.execute(FILL)


def downgrade() -> None:
    op.drop_table("consent_report_counts")
