"""The consent registry's schema as first released: ledger, state, enrolments, cases, releases, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Databases made before the registry used Alembic (``create_all``) are stamped with this revision once
they match it (see :func:`consent.database.migrate`). The append-only triggers are part of the schema.
"""

import sqlalchemy as sa
from alembic import op

from consent.database import append_only_ddl

# The ledger tables as of this revision (a table made append-only later gets its own revision).
APPEND_ONLY = ("consent_events", "consent_checkpoints", "consent_releases", "consent_audit_log")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_access_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_table(
        "consent_audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=27), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("release_id", sa.String(length=200), nullable=True),
        sa.Column("dataset", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_consent_audit_log_at", ["at"], unique=False)
        batch_op.create_index("ix_consent_audit_log_subject", ["subject", "id"], unique=False)

    op.create_table(
        "consent_cases",
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "case_id"),
    )
    with op.batch_alter_table("consent_cases", schema=None) as batch_op:
        batch_op.create_index("ix_consent_cases_subject", ["subject"], unique=False)

    op.create_table(
        "consent_chain_heads",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_table(
        "consent_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("max_event_id", sa.BigInteger(), nullable=False),
        sa.Column("head_count", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "consent_enrolments",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("institution", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=1), nullable=False),
        sa.Column("enrolled_at", sa.String(length=27), nullable=False),
        sa.Column("recorded_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("subject", "dataset"),
    )
    with op.batch_alter_table("consent_enrolments", schema=None) as batch_op:
        batch_op.create_index("ix_consent_enrolments_dataset", ["dataset"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("scope_dataset", sa.String(length=200), nullable=True),
        sa.Column("scope_purpose", sa.String(length=32), nullable=True),
        sa.Column("effective_at", sa.String(length=27), nullable=False),
        sa.Column("recorded_at", sa.String(length=27), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("institution", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("subject", "seq", name="uq_consent_events_subject_seq"),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_kind_institution", ["kind", "institution"], unique=False)

    op.create_table(
        "consent_release_members",
        sa.Column("release_id", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("release_pseudonym", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("release_id", "case_id"),
    )
    with op.batch_alter_table("consent_release_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_release_members_subject_cover", ["subject", "release_id", "release_pseudonym"], unique=False
        )

    op.create_table(
        "consent_release_scopes",
        sa.Column("release_id", sa.String(length=200), nullable=False),
        sa.Column("scope_purpose", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("release_id", "scope_purpose"),
    )
    op.create_table(
        "consent_releases",
        sa.Column("release_id", sa.String(length=200), nullable=False),
        sa.Column("application", sa.String(length=200), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("active_until", sa.String(length=27), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("release_id"),
    )
    op.create_table(
        "consent_state",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("facet", sa.String(length=32), nullable=False),
        sa.Column("scope_dataset", sa.String(length=200), nullable=False),
        sa.Column("scope_purpose", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("effective_at", sa.String(length=27), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "facet", "scope_dataset", "scope_purpose"),
    )
    op.create_table(
        "consent_withdrawal_items",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("release_id", sa.String(length=200), nullable=False),
        sa.Column("release_pseudonym", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("notice_id", "release_pseudonym"),
    )
    with op.batch_alter_table("consent_withdrawal_items", schema=None) as batch_op:
        batch_op.create_index("ix_consent_withdrawal_items_release", ["release_id", "release_pseudonym"], unique=False)

    op.create_table(
        "consent_withdrawal_notices",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("release_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.Column("acknowledged_at", sa.String(length=27), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    with op.batch_alter_table("consent_withdrawal_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_withdrawal_notices_release_id"), ["release_id"], unique=False)
    for statement in append_only_ddl(op.get_bind().dialect.name, APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("consent_withdrawal_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_withdrawal_notices_release_id"))

    op.drop_table("consent_withdrawal_notices")
    with op.batch_alter_table("consent_withdrawal_items", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_withdrawal_items_release")

    op.drop_table("consent_withdrawal_items")
    op.drop_table("consent_state")
    op.drop_table("consent_releases")
    op.drop_table("consent_release_scopes")
    with op.batch_alter_table("consent_release_members", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_release_members_subject_cover")

    op.drop_table("consent_release_members")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_kind_institution")

    op.drop_table("consent_events")
    with op.batch_alter_table("consent_enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_enrolments_dataset")

    op.drop_table("consent_enrolments")
    op.drop_table("consent_checkpoints")
    op.drop_table("consent_chain_heads")
    with op.batch_alter_table("consent_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_cases_subject")

    op.drop_table("consent_cases")
    with op.batch_alter_table("consent_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_audit_log_subject")
        batch_op.drop_index("ix_consent_audit_log_at")

    op.drop_table("consent_audit_log")
    op.drop_table("consent_access_codes")
