"""The bootstrap DAG under a real ``airflow dags test``: exports in, watermarks set, no call."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from airflow_support import AIRFLOW, REPO, airflow_env, connection, new_airflow_home, run
from sqlalchemy import create_engine, text

from bulk_support import hostile_dockets, write_dockets
from courtflow.bootstrap.exports import EXPORTS
from courtflow.sandbox.bulk import export_rows, write_export

DAG_FILE = '''"""Written by the courtflow integration tests."""

from courtflow.airflow.bootstrap import build_bootstrap_dag

dag = build_bootstrap_dag({config!r})
'''


def test_bootstrap_dag_loads_the_exports_and_sets_the_watermarks(
    airflow_template: Path, tmp_path: Path, fresh_pg: Any
) -> None:
    home = new_airflow_home(airflow_template, tmp_path / "home")
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "courtlistener_bootstrap.py", dags)  # the real DAG file
    files = tmp_path / "exports"
    files.mkdir()
    dockets = write_dockets(files / "dockets-2024-03-01.csv.bz2", hostile_dockets(300))
    courts = files / "courts-2024-03-01.csv.bz2"
    write_export(courts, EXPORTS["courts"], export_rows(EXPORTS["courts"], [
        {"id": "scotus", "date_modified": "2024-01-01T00:00:00-08:00",
         "full_name": 'The "Supreme" Court', "in_use": True, "position": 1.0}]))  # fmt: skip
    config = {"dag_id": "cf_bootstrap", "files": [str(courts), str(dockets)], "retries": 0}
    (dags / "cf_bootstrap.py").write_text(DAG_FILE.format(config=config))
    pg_url = fresh_pg()
    env = airflow_env(home, dags, {"AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
        host="http://127.0.0.1:9/api/rest/v4", extra={"database_url": pg_url})})  # fmt: skip

    listed = run([AIRFLOW, "dags", "list", "--local", "-o", "plain"], env)
    assert "courtlistener_bootstrap" in listed.stdout, listed.stdout + listed.stderr
    done = run([AIRFLOW, "dags", "test", "cf_bootstrap", "2024-03-02"], env, timeout=240)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("cl_courts", "cl_dockets")]  # fmt: skip
        marks = dict(conn.execute(text("SELECT resource, watermark FROM sync_watermarks")).all())
        calls = conn.execute(text("SELECT count(*) FROM api_call_ledger")).scalar_one()
        loads = conn.execute(text("SELECT status, api_calls FROM bulk_loads")).all()
        name = conn.execute(text("SELECT full_name FROM cl_courts")).scalar_one()
    engine.dispose()
    assert counts == [1, 300]
    assert {k: v.date().isoformat() for k, v in marks.items()} == {
        "courts": "2024-02-29", "dockets": "2024-02-29"}
    assert calls == 0 and sorted(loads) == [("done", 0), ("done", 0)]
    assert name == 'The "Supreme" Court'
