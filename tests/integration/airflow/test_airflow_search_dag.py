"""A {"search": {...}} entry of the DAG factory under a real ``airflow dags test``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from airflow_support import AIRFLOW, airflow_env, connection, new_airflow_home, run, write_dag
from sqlalchemy import create_engine, text

from courtflow.airflow.dag_factory import build_dag
from courtflow.errors import ConfigError
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.server import start_sandbox

# Calls of the quota (api-usage/ asks are free of it and kept under their own budget key).
MAIN_CALLS = text("SELECT count(*) FROM api_call_ledger WHERE endpoint <> 'api-usage/'")
CONFIG = {
    "dag_id": "cf_search", "schedule": None, "sensor": "none",
    "resources": [{"search": {"type": "o", "filters": {"cited_gt": "200"},
                              "since": "1700-01-01", "until": "2030-01-01",
                              "max_window_hits": 40, "id": "immunity"}}],
}  # fmt: skip


def test_a_search_entry_is_checked_when_the_dag_is_built() -> None:
    dag = build_dag(CONFIG)
    assert {t.task_id for t in dag.tasks} == {"immunity.search"}
    bad = {**CONFIG, "resources": [{"search": {"type": "o", "since": "2015-01-01",
                                               "filters": {"case_nmae": "x"}}}]}  # fmt: skip
    with pytest.raises(ConfigError, match="'case_nmae' is not a field"):
        build_dag(bad)
    with pytest.raises(ConfigError, match="'since'"):
        build_dag({**CONFIG, "resources": [{"search": {"type": "o"}}]})


def test_airflow_dags_test_runs_a_search_scope_and_a_rerun_spends_nothing(
    airflow_template: Path, tmp_path: Path
) -> None:
    home = new_airflow_home(airflow_template, tmp_path / "home")
    dags = tmp_path / "dags"
    dags.mkdir()
    write_dag(dags, CONFIG)
    target = tmp_path / "target.sqlite"
    with start_sandbox(SandboxConfig(volumes={"clusters": 600, "opinions": 600})) as sandbox:
        env = airflow_env(home, dags, {"AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
            host=sandbox.url, password=DEMO_TOKEN,
            extra={"database_url": f"sqlite:///{target}"})})  # fmt: skip
        cmd = [AIRFLOW, "dags", "test", "cf_search", "2026-12-07"]
        first = run(cmd, env, timeout=300)
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
        assert DEMO_TOKEN not in first.stdout + first.stderr
        expected, url = set(), f"{sandbox.url}/search/?type=o&cited_gt=200"
        with httpx.Client(headers={"Authorization": f"Token {DEMO_TOKEN}"}) as client:
            while url:
                body = client.get(url).json()
                expected |= {h["cluster_id"] for h in body["results"]}
                url = body["next"]
        engine = create_engine(f"sqlite:///{target}")
        with engine.connect() as conn:
            stored = {r[0] for r in conn.execute(text("SELECT id FROM cl_search_o"))}
            calls = conn.execute(MAIN_CALLS).scalar_one()
        assert stored == expected and len(expected) > 40
        with sqlite3.connect(home / "airflow.db") as db:
            ((state,),) = db.execute(
                "SELECT state FROM task_instance WHERE task_id='immunity.search'").fetchall()
            ((value,),) = db.execute(
                "SELECT value FROM xcom WHERE task_id='immunity.search' "
                "AND key='return_value'").fetchall()
        assert state == "success"
        summary = json.loads(value)
        assert summary["hits"] == len(expected) and summary["calls"] == calls
        second = run([*cmd[:-1], "2026-12-08"], env, timeout=300)
        assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
        with engine.connect() as conn:
            assert conn.execute(MAIN_CALLS).scalar_one() == calls  # finished windows: 0 calls
        engine.dispose()
