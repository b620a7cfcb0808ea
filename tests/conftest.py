"""Shared fixtures: a real PostgreSQL database per test session, SQLite files per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from bounds import bound
from pg_support import PG_ADMIN_URL, scratch_database

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scale every test's pytest-timeout limit (its marker's, else the ini default) by the
    bound factor: the limit catches hangs; on a busy host a slow test is not a hung one."""
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        if marker is None:
            seconds = default
        elif marker.args:
            seconds = float(marker.args[0])
        else:
            seconds = float(marker.kwargs.get("timeout", default))
        if seconds > 0:  # 0: no limit at all
            item.add_marker(pytest.mark.timeout(bound(seconds)), append=False)


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
