"""The data-subject portal: access codes that are used once, expire and can be revoked; portal passwords,
sessions and sign-in throttles; the client address on audit rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each step checks first: a database stamped from create_all may hold some of this already.
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    codes = {c["name"] for c in inspector.get_columns("consent_access_codes")}
    for name in ("used_at", "revoked_at"):
        if name not in codes:
            op.add_column("consent_access_codes", sa.Column(name, sa.String(length=27), nullable=True))
    if "ix_consent_access_codes_subject" not in {ix["name"] for ix in inspector.get_indexes("consent_access_codes")}:
        op.create_index("ix_consent_access_codes_subject", "consent_access_codes", ["subject"], unique=False)
    # ADD COLUMN touches no row: the audit log's append-only triggers do not fire.
    if "client" not in {c["name"] for c in inspector.get_columns("consent_audit_log")}:
        op.add_column("consent_audit_log", sa.Column("client", sa.String(length=64), nullable=True))
    if "consent_portal_credentials" not in tables:
        op.create_table(
            "consent_portal_credentials",
            sa.Column("subject", sa.String(length=64), nullable=False),
            sa.Column("password_hash", sa.String(length=200), nullable=False),
            sa.Column("set_at", sa.String(length=27), nullable=False),
            sa.PrimaryKeyConstraint("subject"),
        )
    if "consent_portal_sessions" not in tables:
        op.create_table(
            "consent_portal_sessions",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("subject", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.String(length=27), nullable=False),
            sa.Column("last_seen_at", sa.String(length=27), nullable=False),
            sa.Column("client", sa.String(length=64), nullable=False),
            sa.Column("needs_password", sa.Boolean(), server_default=sa.false(), nullable=False),
            sa.Column("ended_at", sa.String(length=27), nullable=True),
            sa.PrimaryKeyConstraint("token_hash"),
        )
    if "consent_portal_throttle" not in tables:
        op.create_table(
            "consent_portal_throttle",
            sa.Column("key", sa.String(length=80), nullable=False),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("first_failure_at", sa.String(length=27), nullable=False),
            sa.Column("locked_until", sa.String(length=27), nullable=True),
            sa.PrimaryKeyConstraint("key"),
        )


def downgrade() -> None:
    op.drop_table("consent_portal_throttle")
    op.drop_table("consent_portal_sessions")
    op.drop_table("consent_portal_credentials")
    with op.batch_alter_table("consent_audit_log") as batch_op:
        batch_op.drop_column("client")
    op.drop_index("ix_consent_access_codes_subject", table_name="consent_access_codes")
    with op.batch_alter_table("consent_access_codes") as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("used_at")
