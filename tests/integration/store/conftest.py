"""Store fixtures: an empty database per test, on PostgreSQL and on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from courtflow.store.engine import dispose_engine, make_engine
from courtflow.store.migrate import upgrade
from pg_support import scratch_database


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of its own, on the server of the session's ``pg_url``."""
    with scratch_database("courtflow_store", pg_url) as url:
        yield url


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
            dispose_engine(url)


@pytest.fixture
def store(empty_db_url: str) -> Engine:
    """A migrated target database on each dialect."""
    engine = make_engine(empty_db_url)
    upgrade(engine)
    return engine
