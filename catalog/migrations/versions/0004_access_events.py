"""Access applications: the append-only event stream of every application (issue 15).

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
    op.create_table(
        "access_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.String(100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("applicant", sa.String(100), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.UniqueConstraint("application_id", "n", name="uq_access_events_position"),
    )
    op.create_index("ix_access_events_applicant", "access_events", ["applicant"])
    # Append-only in the database itself, not only by convention of the code.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION access_events_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'access_events is append-only: record a new event instead'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER access_events_append_only BEFORE UPDATE OR DELETE ON access_events "
            "FOR EACH ROW EXECUTE FUNCTION access_events_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_events_no_{verb.lower()} BEFORE {verb} ON access_events BEGIN "
                "SELECT RAISE(ABORT, 'access_events is append-only: record a new event instead'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_events_append_only ON access_events")
        op.execute("DROP FUNCTION IF EXISTS access_events_append_only()")
    op.drop_table("access_events")
