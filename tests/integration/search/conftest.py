"""A sandbox serving search/, a fresh database per test (SQLite or PostgreSQL), helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from pg_support import target_database

VOLUMES = {"dockets": 300, "clusters": 1000, "opinions": 1000, "docket-entries": 200,
           "recap-documents": 200, "people": 60}  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    config = SandboxConfig(
        rates=("100000/hour",), tokens=(DEMO_TOKEN,), seed=11, volumes=VOLUMES,
        start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    with start_sandbox(config) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with target_database(request.param, tmp_path, "courtflow_search") as url:
        yield url
