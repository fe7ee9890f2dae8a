"""Case rows carry the facts a current-state release decides on, filled from the ledger's state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from consent.case_facts import backfill

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_FACTS: tuple[sa.Column[object], ...] = (
    sa.Column("category", sa.String(length=1), nullable=True),
    sa.Column("enrolled_us", sa.BigInteger(), nullable=True),
    sa.Column("notice_sent_us", sa.BigInteger(), nullable=True),
    sa.Column("notice_undelivered_us", sa.BigInteger(), nullable=True),
    sa.Column("deceased", sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column("choice_kind", sa.String(length=32), nullable=True),
    sa.Column("choice_us", sa.BigInteger(), nullable=True),
    sa.Column("choice_rank", sa.SmallInteger(), nullable=True),
    sa.Column("choice_seq", sa.Integer(), nullable=True),
    sa.Column("purpose_choice", sa.Boolean(), server_default=sa.false(), nullable=False),
)


def upgrade() -> None:
    for column in _FACTS:  # ADD COLUMN in place on both dialects (a batch copy would rewrite a large table)
        op.add_column("consent_cases", column)
    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("consent_cases") as batch_op:
        for column in reversed(_FACTS):
            batch_op.drop_column(column.name)
