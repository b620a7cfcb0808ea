"""Schema migrations with Alembic, configured from Python (no alembic.ini at runtime).

``upgrade(engine)`` brings the target database to the newest revision. It is
idempotent and safe when several processes call it at once: PostgreSQL serialises
them on an advisory lock held by the migrating transaction, SQLite on its single
writer lock (``BEGIN IMMEDIATE``). Either way the whole upgrade is one transaction.

    engine = make_engine(settings.database_url)
    upgrade(engine)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Not Alembic's default "alembic_version": the target database may be shared with
# another Alembic-managed application (Airflow's own metadata database uses that name).
VERSION_TABLE = "courtflow_alembic_version"
# pg_advisory_xact_lock key for migrations: the bytes of "cfmigrat" as a bigint.
MIGRATION_LOCK_KEY = int.from_bytes(b"cfmigrat", "big")
_SQLITE_ATTEMPTS = 3

# Alembic is imported inside the functions: it costs more to import than all the rest
# of courtflow.store, and only migrating needs it.
if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations (for commands and tools)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def _upgrade_postgresql(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        # Released at commit; a second caller waits here, then finds nothing to do.
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        command.upgrade(alembic_config(conn), revision)


def _upgrade_sqlite_once(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.connect() as conn, conn.begin():
        raw = conn.connection.driver_connection
        # make_engine's engines already said BEGIN IMMEDIATE; any other SQLite engine
        # would let DDL run outside a transaction, so take the writer lock here.
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        command.upgrade(alembic_config(conn), revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the target database to ``revision`` (default: the newest); idempotent."""
    if engine.dialect.name == "postgresql":
        _upgrade_postgresql(engine, revision)
        return
    for attempt in range(1, _SQLITE_ATTEMPTS + 1):
        try:
            _upgrade_sqlite_once(engine, revision)
            return
        except OperationalError:
            # "database is locked" past the busy timeout, or a racing engine without
            # BEGIN IMMEDIATE that created a table first: the retry sees its work.
            if attempt == _SQLITE_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
