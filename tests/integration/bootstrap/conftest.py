"""A target database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_support import scratch_database, target_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with target_database(request.param, tmp_path, "courtflow_bulk") as url:
        yield url


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[str]:
    with scratch_database("courtflow_bulk") as url:
        yield url
