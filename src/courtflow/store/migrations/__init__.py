"""Alembic migrations of the target database (run by :func:`courtflow.store.migrate.upgrade`)."""
