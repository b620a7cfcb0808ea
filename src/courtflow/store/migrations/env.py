"""Alembic environment, configured from Python: see courtflow.store.migrate.

The connection comes in ``config.attributes["connection"]`` already inside a
transaction (and, on PostgreSQL, holding the migration advisory lock), so the whole
upgrade commits or rolls back as one.
"""

from __future__ import annotations

import importlib

from alembic import context
from sqlalchemy import Connection

import courtflow.store.tables  # noqa: F401  (defines the store's tables on metadata)
from courtflow.store.engine import make_engine
from courtflow.store.metadata import metadata
from courtflow.store.migrate import VERSION_TABLE

try:  # The budget's ledger tables share the metadata when that module is present.
    importlib.import_module("courtflow.budget.tables")
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed parts
    if exc.name not in ("courtflow.budget", "courtflow.budget.tables"):
        raise


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode recreates the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url for the migrations")
    with make_engine(url).begin() as conn:
        _configure(conn)


run()
