"""Scratch PostgreSQL databases for the tests: created on the test server, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from courtflow.budget.budget import dispose_reserving_engine
from courtflow.store.engine import dispose_engine

PG_ADMIN_URL = os.environ.get(
    "COURTFLOW_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_database(prefix: str, server_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new empty database on ``server_url``'s server; its URL, dropped on exit.

    Engines courtflow cached for it are closed first, so the drop never waits on them.
    """
    base = make_url(server_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except BaseException:
        admin.dispose()
        raise
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        dispose_reserving_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def target_database(
    kind: str, tmp_path: Path, prefix: str, file: str = "target.sqlite"
) -> Iterator[str]:
    """A target database of either kind, for tests parametrized over both: a SQLite file
    under ``tmp_path``, or a scratch PostgreSQL database named after ``prefix``."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / file}"
        try:
            yield url
        finally:
            dispose_engine(url)
        return
    with scratch_database(prefix) as url:
        yield url
