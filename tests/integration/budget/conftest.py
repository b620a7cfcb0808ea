"""Budget fixtures: a migrated target database per dialect, and a fresh budget key per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from courtflow.store.engine import dispose_engine, make_engine
from courtflow.store.migrate import upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def budget_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The migrated target database; PostgreSQL is shared by the session (keys keep tests apart)."""
    if request.param == "postgresql":
        engine = make_engine(request.getfixturevalue("pg_url"))
        upgrade(engine)
        yield engine
        return
    url = request.getfixturevalue("sqlite_url")
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine
    finally:
        dispose_engine(url)


@pytest.fixture
def pg_engine(pg_url: str) -> Engine:
    engine = make_engine(pg_url)
    upgrade(engine)
    return engine


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex[:12]}"
