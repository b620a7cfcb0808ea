"""Fixtures for the Airflow integration tests: a migrated SQLite metadata database (made
once per session and copied by each module), fresh PostgreSQL databases, a receiver."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from airflow_support import AIRFLOW, PgDatabases, Receiver, airflow_env, run

# Tests that use Airflow in-process (hooks, triggers) get a throw-away AIRFLOW_HOME.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="courtflow-airflow-it-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def airflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite metadata database; copy it with ``new_airflow_home``."""
    home = tmp_path_factory.mktemp("airflow-template")
    (home / "dags").mkdir()
    done = run([AIRFLOW, "db", "migrate"], airflow_env(home, home / "dags"), timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home / "airflow.db"


@pytest.fixture
def fresh_pg() -> Iterator[Callable[[], str]]:
    databases = PgDatabases()
    try:
        yield databases.create
    finally:
        databases.drop_all()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
