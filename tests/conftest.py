"""Shared fixtures: a real PostgreSQL database per test session, SQLite files per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from pg_support import PG_ADMIN_URL, scratch_database

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped afterwards."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database("courtflow_test"))
        except Exception as exc:  # pragma: no cover - environment problem
            pytest.fail(f"PostgreSQL is required for integration tests ({PG_ADMIN_URL}): {exc}")
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'courtflow.sqlite'}"
