"""The real ``courtlistener_pipeline`` DAG under ``airflow dags test`` against the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from courtflow.demo import airflow_env, sandbox_process
from courtflow.sandbox import DEMO_TOKEN

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(REPO, home, {})
    env["AIRFLOW_HOME"] = str(home)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return home


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with sandbox_process(log) as url:
        yield url


def dags_test(home: Path, extra: dict[str, str], conf: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = airflow_env(REPO, home, extra)
    env["AIRFLOW_HOME"] = str(home)
    return subprocess.run(
        [AIRFLOW, "dags", "test", "courtlistener_pipeline", conf["until"], "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=600,
    )


def test_dag_loads_a_window_into_postgres_and_is_idempotent(
    airflow_home: Path, sandbox_url: str, pg_url: str
) -> None:
    extra = {
        "COURTLISTENER_API_BASE_URL": sandbox_url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": pg_url,
    }
    conf = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-04T00:00:00Z"}
    first = dags_test(airflow_home, extra, conf)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert DEMO_TOKEN not in first.stdout + first.stderr

    engine = create_engine(pg_url)
    tables = ("cl_courts", "cl_dockets", "cl_clusters", "cl_opinions")
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        calls = conn.execute(text("SELECT count(*) FROM api_call_ledger")).scalar_one()
        pages = conn.execute(text("SELECT coalesce(sum(pages), 0) FROM sync_checkpoints")).scalar_one()
    assert all(n > 0 for n in counts.values()), counts
    assert calls == pages  # one reserved call per page, nothing unaccounted

    second = dags_test(airflow_home, extra, conf)
    assert second.returncode == 0, second.stdout[-4000:]
    with engine.connect() as conn:
        again = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        calls_after = conn.execute(text("SELECT count(*) FROM api_call_ledger")).scalar_one()
    engine.dispose()
    assert again == counts
    assert calls_after == calls  # completed windows are not fetched again
