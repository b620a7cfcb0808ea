"""Engines for the target database (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from courtflow.errors import ConfigError
from courtflow.redact import redact

_ENGINES: dict[str, Engine] = {}


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, check: bool = True) -> Engine:
    """Build (and cache per URL, per process) an engine; fail clearly if unreachable."""
    cached = _ENGINES.get(url)
    if cached is not None:
        return cached
    if url.startswith("sqlite"):
        # Several processes share one SQLite file: WAL for readers, a long busy
        # timeout for writers; isolation_level=None lets us issue BEGIN IMMEDIATE.
        engine = create_engine(url, connect_args={"timeout": 60}, isolation_level=None)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers serialise at BEGIN rather than failing at their first write.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=10,
            connect_args={"connect_timeout": 10},
        )
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            engine.dispose()
            where = engine.url.render_as_string(hide_password=True)
            raise ConfigError(
                f"target database unreachable at {where}: "
                f"{redact(str(exc.orig)).strip().splitlines()[0] if exc.orig else exc}"
            ) from None
    _ENGINES[url] = engine
    return engine


def dispose_engine(url: str) -> None:
    """Close and forget the cached engine of ``url`` (before dropping its database)."""
    cached = _ENGINES.pop(url, None)
    if cached is not None:
        cached.dispose()
