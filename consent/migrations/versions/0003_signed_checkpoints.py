"""Checkpoints carry their scheme, an Ed25519 signature and the public key that made it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS: tuple[sa.Column[object], ...] = (
    sa.Column("scheme", sa.String(length=16), nullable=True),
    sa.Column("signature", sa.String(length=128), nullable=True),
    sa.Column("public_key", sa.String(length=64), nullable=True),
)


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("consent_checkpoints")}
    for column in _COLUMNS:  # ADD COLUMN touches no row, so the append-only triggers do not fire
        if column.name not in present:  # a database stamped from create_all may have them already
            op.add_column("consent_checkpoints", column)


def downgrade() -> None:
    with op.batch_alter_table("consent_checkpoints") as batch_op:
        for column in reversed(_COLUMNS):
            batch_op.drop_column(column.name)
