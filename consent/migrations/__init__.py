"""Alembic migrations of the consent database (its own version table: ``consent_alembic_version``)."""
