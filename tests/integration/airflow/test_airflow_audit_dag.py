"""The factory's audit DAG under a real ``airflow dags test``: a resource configured with
an ``audit`` schedule gets its own DAG, whose task finds the records the server deleted
(and the ones edited since) and repairs the mirror."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_support import AIRFLOW, airflow_env, connection, new_airflow_home, run, write_dag
from sqlalchemy import create_engine, text

from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline, sync_window
from courtflow.sandbox import DEMO_TOKEN, SandboxConfig, start_sandbox


@pytest.mark.timeout(900)
def test_audit_dag_marks_what_the_server_deleted(
    airflow_template: Path, tmp_path: Path, fresh_pg: Any
) -> None:
    home = new_airflow_home(airflow_template, tmp_path / "home")
    dags = tmp_path / "dags"
    dags.mkdir()
    write_dag(dags, {"dag_id": "cf_audit", "retries": 0, "sensor": "none",
                     "resources": ["courts", {"name": "dockets", "audit": "@weekly"}]})
    pg_url = fresh_pg()
    config = SandboxConfig(volumes={"dockets": 80, "docket-entries": 0, "recap-documents": 0})
    with start_sandbox(config) as sandbox:
        settings = Settings.from_env({"COURTLISTENER_API_BASE_URL": sandbox.url,
                                      "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
                                      "COURTFLOW_DATABASE_URL": pg_url})  # fmt: skip
        with open_pipeline(settings, run_id="load") as p:
            sync_window(p.engine, p.client, RESOURCES["dockets"], Window(
                datetime(1990, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)),
                run_id="load")  # fmt: skip
        sandbox.delete("dockets", [1004, 1060])
        sandbox.touch("dockets", [1010])
        env = airflow_env(home, dags, {"AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
            host=sandbox.url, password=DEMO_TOKEN, extra={"database_url": pg_url})})  # fmt: skip
        listed = run([AIRFLOW, "dags", "list", "--local", "-o", "plain"], env)
        assert "cf_audit__audit_dockets" in listed.stdout, listed.stdout + listed.stderr
        assert "cf_audit__audit_courts" not in listed.stdout  # no audit schedule: no DAG
        done = run([AIRFLOW, "dags", "test", "cf_audit__audit_dockets", "2024-06-02"], env,
                   timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        marked = set(conn.execute(text(
            "SELECT id FROM cl_dockets WHERE deleted_at IS NOT NULL")).scalars())
        total = conn.execute(text("SELECT count(*) FROM cl_dockets")).scalar_one()
        edited = conn.execute(text(
            "SELECT date_modified FROM cl_dockets WHERE id = 1010")).scalar_one()
    engine.dispose()
    assert marked == {1004, 1060}
    assert total >= 80  # nothing removed
    assert edited.year == datetime.now(UTC).year  # the edit was fetched
