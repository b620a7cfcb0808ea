"""A distributed run on a real engine: Airflow's CeleryExecutor with two worker processes.

Redis on 127.0.0.1:6379 is the broker (a database index and a queue of this test's own, so
other users of the server are not disturbed), PostgreSQL holds Airflow's metadata (a
scratch database) and the results. Two DAGs on one token run their scheduled windows
concurrently against the sandbox, whose limits equal the budget's tight rates. Both must
succeed with no 429, no page fetched twice, and budget waits deferred to the triggerer.
Needs ``apache-airflow-providers-celery`` (a dev dependency). ``make reliability`` runs it.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from test_airflow_scheduler_e2e import ledger_summary, watch_runs

from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.config import SYNTHETIC_RESOURCES, SandboxConfig
from courtflow.sandbox.server import start_sandbox

RATES = ("20/4s", "60/20s")
REDIS_URL = "redis://127.0.0.1:6379/11"


def pages_fetched_twice(target_url: str) -> int:
    """Successful list calls beyond the pages the checkpoints committed (0: none twice)."""
    engine = create_engine(target_url)
    try:
        with engine.connect() as conn:
            pages = conn.execute(text("SELECT coalesce(sum(pages), 0) FROM sync_checkpoints"))
            # api-usage/ calls have a budget key of their own and fetch no page.
            ok = conn.execute(text(
                "SELECT count(*) FROM api_call_ledger WHERE outcome = 'ok'"
                " AND budget_key NOT LIKE '%\\:api_usage'"))  # fmt: skip
            return int(ok.scalar_one()) - int(pages.scalar_one())
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_dags_on_two_celery_workers_share_one_budget_with_no_429(tmp_path: Path) -> None:
    pytest.importorskip("airflow.providers.celery")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    resources = {"cf_celery_a": ["dockets", "clusters"], "cf_celery_b": ["opinions", "people"]}
    used = [r for names in resources.values() for r in names]
    sandbox_config = SandboxConfig(
        rates=RATES, start=hour - timedelta(hours=3), end=hour + timedelta(hours=1),
        volumes={name: (800 if name in used else 0) for name in SYNTHETIC_RESOURCES},
    )  # fmt: skip
    queue = f"courtflow_{uuid.uuid4().hex[:8]}"
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
            "sensor": "deferrable", "sensor_poke_interval": "2s", "trigger_poll_interval": "5s",
        })  # fmt: skip
    try:
        metadata_url = databases.create()
        target_url = databases.create()
        backend = "db+" + metadata_url
        with start_sandbox(sandbox_config) as sandbox:
            api_port = free_port()
            env = scheduler_env(home, dags, metadata_url=metadata_url, api_port=api_port,
                                name="celery-" + tmp_path.name, extra={
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
                "AIRFLOW__CELERY__RESULT_BACKEND": backend,
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                "AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
                    host=sandbox.url, password=DEMO_TOKEN,
                    extra={"database_url": target_url, "rates": ",".join(RATES)}),
            })  # fmt: skip
            migrated = run([AIRFLOW, "db", "migrate"], env, timeout=300)
            assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
            pool = run([sys.executable, "-m", "courtflow.airflow.setup", "--pool-slots", "4"],
                       env, timeout=120)  # fmt: skip
            assert pool.returncode == 0, pool.stdout + pool.stderr
            services.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1",
                                          "--port", str(api_port), "--workers", "1"], env)
            for n in (1, 2):
                services.start(f"worker{n}", [
                    AIRFLOW, "celery", "worker", "--concurrency", "2", "--queues", queue,
                    "--celery-hostname", f"courtflow{n}-{queue}@127.0.0.1",
                    "--skip-serve-logs", "--without-gossip", "--without-mingle",
                ], env)  # fmt: skip
            services.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env)
            services.start("dag-processor", [AIRFLOW, "dag-processor"], env)
            services.start("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"], env)
            seen = watch_runs(services, metadata_url, set(resources))
            listening = services.listening()
            stats = sandbox.stats()
            calls, statuses = ledger_summary(target_url)
            twice = pages_fetched_twice(target_url)
            worker_logs = {n: services.tail(f"worker{n}", 400) for n in (1, 2)}
    finally:
        services.stop()
        databases.drop_all()

    assert seen["runs"] == {dag_id: "success" for dag_id in resources}, (
        seen["runs"], services.tail("scheduler"), services.tail("worker1"))
    assert stats["throttled"] == 0 and 429 not in statuses, stats
    assert calls == stats["admitted"] > 0
    assert twice == 0
    assert seen["deferred"] and seen["triggers"] >= 1, seen
    # Both Celery workers ran task instances.
    assert all("] received" in log for log in worker_logs.values()), worker_logs
    assert all(ip == "127.0.0.1" for ip, _, _ in listening), listening
