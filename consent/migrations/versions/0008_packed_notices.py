"""A withdrawal notice keeps its pseudonyms packed in its own row; the per-pseudonym items table goes.

Each notice's ``consent_withdrawal_items`` rows become its ``pseudonyms`` value (sorted, 16 bytes each,
:mod:`consent.notice_lists`), then the items table is dropped. The downgrade refuses: restore the backup
taken before upgrading.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from consent import notice_lists

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "pseudonyms" not in {c["name"] for c in inspector.get_columns("consent_withdrawal_notices")}:
        op.add_column("consent_withdrawal_notices", sa.Column("pseudonyms", sa.LargeBinary(), nullable=True))
    if "consent_withdrawal_items" in inspector.get_table_names():
        listed: dict[str, list[str]] = defaultdict(list)
        for notice_id, pseudonym in bind.execute(
            sa.text("SELECT notice_id, release_pseudonym FROM consent_withdrawal_items")
        ):
            listed[str(notice_id)].append(str(pseudonym))
        notices = sa.table("consent_withdrawal_notices", sa.column("notice_id"), sa.column("pseudonyms"))
        for notice_id, names in sorted(listed.items()):
            bind.execute(
                notices.update().where(notices.c.notice_id == notice_id).values(pseudonyms=notice_lists.pack(names))
            )
        op.drop_table("consent_withdrawal_items")
    empty = sa.text("UPDATE consent_withdrawal_notices SET pseudonyms = :empty WHERE pseudonyms IS NULL")
    bind.execute(empty, {"empty": b""})
    with op.batch_alter_table("consent_withdrawal_notices") as batch:
        batch.alter_column("pseudonyms", existing_type=sa.LargeBinary(), nullable=False)


def downgrade() -> None:
    raise RuntimeError(
        "revision 0008 packed each withdrawal notice's pseudonyms into its row and dropped the items table; "
        "to go back, restore the consent database from the backup taken before upgrading"
    )
