"""Store fixtures: an empty database per test, on PostgreSQL and on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from courtflow.store import engine as engine_mod
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade


def _forget_engine(url: str) -> None:
    cached = engine_mod._ENGINES.pop(url, None)
    if cached is not None:
        cached.dispose()


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own, on the server of the session's ``pg_url``."""
    base = make_url(pg_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"courtflow_store_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _forget_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty target database URL, once per dialect."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_pg_url")
        yield url
    else:
        url = request.getfixturevalue("sqlite_url")
        try:
            yield url
        finally:
            _forget_engine(url)


@pytest.fixture
def store(empty_db_url: str) -> Engine:
    """A migrated target database on each dialect."""
    engine = make_engine(empty_db_url)
    upgrade(engine)
    return engine
