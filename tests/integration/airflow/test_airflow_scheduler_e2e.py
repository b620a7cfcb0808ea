"""End to end under a real Airflow deployment: api-server, scheduler (LocalExecutor),
dag-processor and triggerer on 127.0.0.1 with a PostgreSQL metadata database.

Two DAG files from the factory, with different dag_ids and resources, share one token
and one budget (the same connection and target database) and run their scheduled
windows concurrently against the sandbox, whose limits equal the budget's tight,
time-compressed rates. The DAGs are unpaused as they are parsed
(``dags_are_paused_at_creation=False``), so the scheduler starts the run of the latest
hour of both at once. Both must succeed with zero 429s, and budget waits must be
deferred to the triggerer rather than slept in a worker. Every process is stopped by
process group afterwards, and only 127.0.0.1 is listened on.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_support import (
    AIRFLOW,
    PgDatabases,
    Services,
    connection,
    free_port,
    run,
    scheduler_env,
    write_dag,
)
from sqlalchemy import create_engine, text

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.config import SYNTHETIC_RESOURCES, SandboxConfig
from courtflow.sandbox.server import start_sandbox

# Calls of the main budget (api-usage/ keeps a budget of its own: "<key>:api_usage").
MAIN_CALLS = text("SELECT count(*) FROM api_call_ledger WHERE budget_key NOT LIKE '%\\:api_usage'")

RATES = ("20/4s", "60/20s")
RUN_TIMEOUT = 240.0


@pytest.mark.slow  # a real scheduler, triggerer and API server: about 2 min; make test-slow
@pytest.mark.timeout(600)
def test_two_dags_share_one_budget_under_the_scheduler_with_no_429_and_deferred_waits(
    tmp_path: Path,
) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    resources = {"cf_e2e_a": ["dockets", "clusters"], "cf_e2e_b": ["opinions", "people"]}
    used = [r for names in resources.values() for r in names]
    # Records modified around now, so the latest scheduled hour holds ~10 pages of each.
    sandbox_config = SandboxConfig(
        rates=RATES, start=hour - timedelta(hours=3), end=hour + timedelta(hours=1),
        volumes={name: (800 if name in used else 0) for name in SYNTHETIC_RESOURCES},
    )  # fmt: skip
    databases = PgDatabases()
    services = Services(tmp_path)
    home, dags = tmp_path / "home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    for dag_id, names in resources.items():
        write_dag(dags, {
            "dag_id": dag_id, "resources": names, "schedule": "1h",
            "start_date": (hour - timedelta(days=1)).isoformat(), "catchup": False,
            "max_sleep": 0.5, "retries": 1, "retry_delay": "2s",
            # One DAG defers its budget sensor to the triggerer, the other reschedules it.
            "sensor": "deferrable" if dag_id.endswith("a") else "reschedule",
            "sensor_poke_interval": "2s", "trigger_poll_interval": "5s",
        })  # fmt: skip
    try:
        metadata_url = databases.create()
        target_url = databases.create()
        with start_sandbox(sandbox_config) as sandbox:
            api_port = free_port()
            env = scheduler_env(home, dags, metadata_url=metadata_url, api_port=api_port,
                                name="e2e-" + tmp_path.name, extra={
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
                    host=sandbox.url, password=DEMO_TOKEN,
                    extra={"database_url": target_url, "rates": ",".join(RATES)}),
            })  # fmt: skip
            migrated = run([AIRFLOW, "db", "migrate"], env, timeout=240)
            assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
            pool = subprocess.Popen(
                [sys.executable, "-m", "courtflow.airflow.setup", "--pool-slots", "4"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            services.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1",
                                          "--port", str(api_port), "--workers", "1"], env)
            services.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env)
            services.start("dag-processor", [AIRFLOW, "dag-processor"], env)
            services.start("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"], env)
            pool_out, _ = pool.communicate(timeout=bound(120))
            assert pool.returncode == 0, pool_out
            seen = watch_runs(services, metadata_url, set(resources))
            listening = services.listening()
            stats = sandbox.stats()
            calls, statuses = ledger_summary(target_url)
            booked = bookings_summary(target_url)
    finally:
        services.stop()
        databases.drop_all()

    # Loopback only: the api-server; no log server, no health server on other addresses.
    assert listening and all(ip == "127.0.0.1" for ip, _, _ in listening), listening
    assert seen["runs"] == {dag_id: "success" for dag_id in resources}, (
        seen["runs"], services.tail("scheduler"), services.tail("triggerer"))
    # No try was lost to the scheduler's resume-after-defer race (min_deferral).
    assert seen["tries"] == {f"{d}.{r}.sync": 1 for d, names in resources.items()
                             for r in names}, seen["tries"]  # fmt: skip
    assert stats["throttled"] == 0 and 429 not in statuses, stats
    assert calls == stats["admitted"] > 0  # every call the server admitted was reserved
    # A budget wait went to the triggerer: a task instance was seen deferred with a
    # trigger row, and the triggerer's log shows the budget trigger firing.
    assert seen["deferred"], seen
    assert seen["triggers"] >= 1
    trigger_logs = list((home / "logs").rglob("*.trigger.*.log"))
    assert any("has room after" in p.read_text(errors="replace") for p in trigger_logs)
    # Each sync task booked its calls for the next hourly run, due when that run starts.
    assert {(d, t) for d, t, _, _, _ in booked} == {
        (d, f"{r}.sync") for d, names in resources.items() for r in names}, booked
    assert all(p == "incremental" and need > 0 and due == hour + timedelta(hours=1)
               for _, _, p, need, due in booked), booked  # fmt: skip


def watch_runs(services: Services, metadata_url: str, dag_ids: set[str]) -> dict[str, Any]:
    """Polls the metadata database (the test may; task code may not) until both DAGs
    have a finished run, recording what was deferred along the way."""
    engine = create_engine(metadata_url)
    deferred: set[str] = set()
    triggers = 0
    runs: dict[str, str] = {}
    tries: dict[str, int] = {}
    deadline = time.monotonic() + bound(RUN_TIMEOUT)
    try:
        while time.monotonic() < deadline:
            services.check_alive()
            with engine.connect() as conn:
                runs = dict(conn.execute(text(
                    "SELECT dag_id, state FROM dag_run WHERE dag_id = ANY(:ids)"),
                    {"ids": list(dag_ids)}).all())  # fmt: skip
                deferred |= {f"{d}.{t}" for d, t in conn.execute(text(
                    "SELECT dag_id, task_id FROM task_instance WHERE state = 'deferred'"))}
                triggers = max(triggers, conn.execute(text(
                    "SELECT count(*) FROM trigger")).scalar_one())  # fmt: skip
            if set(runs) == dag_ids and all(s in ("success", "failed") for s in runs.values()):
                with engine.connect() as conn:
                    tries = {f"{d}.{t}": n for d, t, n in conn.execute(text(
                        "SELECT dag_id, task_id, try_number FROM task_instance "
                        "WHERE task_id LIKE '%.sync'"))}  # fmt: skip
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"runs did not finish in {bound(RUN_TIMEOUT):g}s: {runs}\n"
                                 f"{services.tail('scheduler')}\n{services.tail('triggerer')}")
    finally:
        engine.dispose()
    return {"runs": runs, "deferred": deferred, "triggers": triggers, "tries": tries}


def bookings_summary(target_url: str) -> list[tuple[str, str, str, int, datetime]]:
    engine = create_engine(target_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT dag_id, task_id, priority, need, due_at FROM api_budget_bookings"
            )).all()  # fmt: skip
    finally:
        engine.dispose()
    return [(d, t, p, int(n), due) for d, t, p, n, due in rows]


def ledger_summary(target_url: str) -> tuple[int, set[int]]:
    engine = create_engine(target_url)
    try:
        with engine.connect() as conn:
            calls = conn.execute(MAIN_CALLS).scalar_one()
            statuses = set(conn.execute(text(
                "SELECT DISTINCT status FROM api_call_ledger WHERE status IS NOT NULL")).scalars())
    finally:
        engine.dispose()
    return int(calls), {int(s) for s in statuses}
