"""Alembic environment of the consent database: runs on the connection :func:`consent.database.migrate` hands over.

The version table has its own name so that a consent database can never be mistaken for the catalog's,
even if both were pointed at one PostgreSQL database by mistake.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from consent.tables import metadata

VERSION_TABLE = "consent_alembic_version"
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, version_table=VERSION_TABLE
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic` invoked by hand with sqlalchemy.url set
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
