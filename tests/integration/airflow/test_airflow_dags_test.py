"""courtflow DAGs under a real ``airflow dags test`` (SQLite metadata, real triggers,
real retries) against the sandbox on 127.0.0.1, loading real target databases.

One Airflow installation per module (the metadata database is migrated once per
session and copied); each scenario is a configuration-only DAG file from the factory
with its own connection (``AIRFLOW_CONN_<ID>``), sandbox and target database.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow_support import (
    AIRFLOW,
    REPO,
    PgDatabases,
    Receiver,
    StatsdCollector,
    airflow_env,
    connection,
    new_airflow_home,
    run,
    write_dag,
)
from sqlalchemy import create_engine, text

from courtflow.budget.rates import parse_rates
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.config import FaultConfig, SandboxConfig
from courtflow.sandbox.faults import FaultPlan
from courtflow.sandbox.server import RunningSandbox, start_sandbox

# Calls of the main budget (api-usage/ keeps a budget of its own: "<key>:api_usage").
MAIN_CALLS = text("SELECT count(*) FROM api_call_ledger WHERE budget_key NOT LIKE '%\\:api_usage'")

BAD_TOKEN = "badbadbadbadbadbadbadbadbadbadbadbadbad0"
SECRET_TOKEN = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
DAY = {"since": "2024-01-02T00:00:00Z", "until": "2024-01-03T00:00:00Z"}
METRICS_MD = REPO / "src" / "courtflow" / "observe" / "METRICS.md"


# -- the installation shared by the module ------------------------------------------------
@dataclass
class Installation:
    home: Path
    dags: Path

    def dags_test(
        self, dag_id: str, conf: dict[str, str], env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        cmd = [AIRFLOW, "dags", "test", dag_id, conf["until"], "-c", json.dumps(conf)]
        return run(cmd, airflow_env(self.home, self.dags, env), timeout=240)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """The metadata database, read by the test (task code never does)."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            return db.execute(sql, params).fetchall()

    def task(self, dag_id: str, task_id: str) -> tuple[str, int]:
        ((state, try_number),) = self.query(
            "SELECT state, try_number FROM task_instance WHERE dag_id=? AND task_id=?",
            dag_id, task_id)  # fmt: skip
        return state, try_number

    def xcom(self, dag_id: str, task_id: str) -> Any:
        ((value,),) = self.query(
            "SELECT value FROM xcom WHERE dag_id=? AND task_id=? AND key='return_value'",
            dag_id, task_id)  # fmt: skip
        return json.loads(value)


SCENARIOS: list[dict[str, Any]] = [
    {   # a bad token: fatal at once, alerts through the webhook and Slack
        "dag_id": "cf_fatal", "courtlistener_conn_id": "cl_fatal", "resources": ["dockets"],
        "retries": 3, "retry_delay": "1s",
        "alerts": {"webhook_conn_id": "cf_alerts", "slack_webhook_conn_id": "cf_slack"},
    },
    {   # a 503 with one HTTP attempt per try: the task's retry recovers it
        "dag_id": "cf_transient", "courtlistener_conn_id": "cl_transient",
        "resources": ["dockets", "clusters"], "sequential": True, "sensor": "reschedule",
        "sensor_poke_interval": "1s", "retries": 3, "retry_delay": "1s",
        "retry_exponential_backoff": 2.0, "min_deferral": 0,
    },
    {   # a tenth of the records rejected: the task fails at once, no retry
        "dag_id": "cf_rejects", "courtlistener_conn_id": "cl_rejects", "resources": ["dockets"],
        "retries": 3, "retry_delay": "1s",
    },
    {   # a tight budget and max_sleep 0: every wait defers to the trigger
        "dag_id": "cf_budget", "courtlistener_conn_id": "cl_budget",
        "resources": ["dockets", "clusters"], "sequential": True, "max_sleep": 0,
        "retries": 1, "retry_delay": "1s", "trigger_poll_interval": "5s",
        "min_deferral": 0,  # no scheduler under `dags test`: nothing to race
    },
]  # fmt: skip


@pytest.fixture(scope="module")
def installation(airflow_template: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Installation:  # fmt: skip
    root = tmp_path_factory.mktemp("dags-test")
    home = new_airflow_home(airflow_template, root / "home")
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "courtlistener_pipeline.py", dags)  # the real DAG files
    shutil.copy(REPO / "dags" / "courtlistener_scoped.py", dags)
    shutil.copy(REPO / "dags" / "examples" / "courtlistener_taskflow.py", dags)
    for config in SCENARIOS:
        write_dag(dags, config)
    return Installation(home, dags)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


def fault_seed(config: FaultConfig, wanted: list[str], limit: int = 20000) -> int:
    """The first seed whose fault draws start with ``wanted`` (sandbox draws are seeded and
    made in arrival order, so a sequential client meets exactly these faults)."""
    for seed in range(limit):
        plan = FaultPlan(FaultConfig(**{**config.__dict__, "seed": seed}))
        if [plan.draw("t").value for _ in wanted] == wanted:
            return seed
    raise AssertionError(f"no seed gives {wanted}")


# -- 1. success: the real DAG file, PostgreSQL target, idempotent rerun --------------------
def test_real_dag_loads_a_window_into_postgres_and_a_rerun_changes_nothing(
    installation: Installation, sandbox: RunningSandbox, fresh_pg: Any
) -> None:
    pg_url = fresh_pg()
    env = {"AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
        host=sandbox.url, password=DEMO_TOKEN, extra={"database_url": pg_url})}  # fmt: skip
    conf = {"since": "2024-01-01T00:00:00Z", "until": "2024-01-04T00:00:00Z"}
    first = installation.dags_test("courtlistener_pipeline", conf, env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert DEMO_TOKEN not in first.stdout + first.stderr

    engine = create_engine(pg_url)
    tables = ("cl_courts", "cl_dockets", "cl_clusters", "cl_opinions")
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        calls = conn.execute(MAIN_CALLS).scalar_one()
        pages = conn.execute(text("SELECT sum(pages) FROM sync_checkpoints")).scalar_one()
    assert all(n > 0 for n in counts.values()), counts
    assert calls == pages  # one reserved call per page, nothing unaccounted
    # Each resource published its Asset for downstream DAGs.
    published = {row[0].rstrip("/") for row in installation.query(
        "SELECT a.uri FROM asset_event e JOIN asset a ON a.id = e.asset_id")}  # fmt: skip
    assert published >= {f"courtlistener://{r}" for r in ("courts", "dockets", "opinions")}

    second = installation.dags_test("courtlistener_pipeline", conf, env)
    assert second.returncode == 0, second.stdout[-4000:]
    with engine.connect() as conn:
        again = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        calls_after = conn.execute(MAIN_CALLS).scalar_one()
    engine.dispose()
    assert again == counts
    assert calls_after == calls  # completed windows are not fetched again


# -- 1b. the documented TaskFlow example: the operator and the sensor in one's own DAG -----
def test_the_taskflow_example_syncs_and_hands_the_totals_to_the_next_task(
    installation: Installation, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    target = tmp_path / "target.sqlite"
    env = {"AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
        host=sandbox.url, password=DEMO_TOKEN, extra={"database_url": f"sqlite:///{target}"})}
    done = installation.dags_test("courtlistener_taskflow_example", DAY, env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    dag_id = "courtlistener_taskflow_example"
    for task_id in ("wait_for_budget", "sync_dockets", "summarize"):
        assert installation.task(dag_id, task_id)[0] == "success"
    result = installation.xcom(dag_id, "sync_dockets")
    with sqlite3.connect(target) as db:
        (rows,) = db.execute("SELECT count(*) FROM cl_dockets").fetchone()
    assert result["rows"] == rows > 0
    assert (result["new"], result["changed"], result["unchanged"]) == (rows, 0, 0)
    assert installation.xcom(dag_id, "summarize").startswith(f"{rows} dockets in ")


# -- 2. fatal: no retry, alerts sent, no token ---------------------------------------------
def test_bad_token_fails_without_retry_and_alerts_without_the_token(
    installation: Installation, sandbox: RunningSandbox, receiver: Receiver, tmp_path: Path
) -> None:
    env = {
        "AIRFLOW_CONN_CL_FATAL": connection(
            host=sandbox.url, password=BAD_TOKEN,
            extra={"database_url": f"sqlite:///{tmp_path / 'target.sqlite'}"}),
        "AIRFLOW_CONN_CF_ALERTS": connection(
            "http", host=receiver.url, extra={"endpoint": "/alerts"}),
        "AIRFLOW_CONN_CF_SLACK": connection(
            "slackwebhook", host=f"{receiver.url}/slack", password="T0/B0/XYZ"),
    }  # fmt: skip
    done = installation.dags_test("cf_fatal", DAY, env)
    output = done.stdout + done.stderr
    state, try_number = installation.task("cf_fatal", "dockets.sync")
    assert (state, try_number) == ("failed", 1), output[-4000:]  # retries=3, none used
    assert "AuthError" in output
    alerts = dict(receiver.received)
    payload = json.loads(alerts["/alerts"])
    ((run_id,),) = installation.query("SELECT run_id FROM dag_run WHERE dag_id='cf_fatal'")
    assert {k: payload[k] for k in ("dag_id", "task_id", "run_id", "try_number",
                                    "error_class")} == {
        "dag_id": "cf_fatal", "task_id": "dockets.sync", "run_id": run_id, "try_number": 1,
        "error_class": "AuthError"}  # fmt: skip
    assert "/dags/cf_fatal/runs/" in payload["log_url"] and "401" in payload["error"]
    slack = json.loads(alerts["/slack/T0/B0/XYZ"])["text"]
    assert "cf_fatal.dockets.sync" in slack and "AuthError" in slack
    for where in (output, *(body.decode() for _, body in receiver.received)):
        assert BAD_TOKEN not in where


# -- 2b. rejections over the threshold fail the task (issue 24) ---------------------------
def test_a_window_rejecting_more_than_the_threshold_fails_the_task_without_retry(
    installation: Installation, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'rejects.sqlite'}"
    config = SandboxConfig(faults=FaultConfig(broken_every=10), volumes={"dockets": 4000})
    with start_sandbox(config) as sandbox:
        env = {"AIRFLOW_CONN_CL_REJECTS": connection(
            host=sandbox.url, password=DEMO_TOKEN, extra={"database_url": db})}  # fmt: skip
        done = installation.dags_test("cf_rejects", DAY, env)
    output = done.stdout + done.stderr
    assert installation.task("cf_rejects", "dockets.sync") == ("failed", 1), output[-4000:]
    assert "TooManyRejectsError" in output and "allowed by --max-reject-ratio" in output
    with create_engine(db).connect() as conn:  # the window is not marked loaded
        assert conn.execute(text("SELECT count(*) FROM sync_ranges")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM sync_rejects")).scalar() > 0


# -- 3. transient: a 503 recovered by the task's retry; reschedule-mode sensor -------------
def test_server_error_is_recovered_by_a_task_retry_resuming_from_the_checkpoint(
    installation: Installation, fresh_pg: Any
) -> None:
    faults = FaultConfig(p_503=0.3)
    # Page 1 is stored, page 2 answers 503 (one HTTP attempt per try: the try fails),
    # then nothing more goes wrong.
    seed = fault_seed(faults, ["none", "503", *["none"] * 12])
    pg_url = fresh_pg()
    # Denser dockets: the day holds several pages, so the 503 lands mid-window.
    config = SandboxConfig(faults=FaultConfig(**{**faults.__dict__, "seed": seed}),
                           volumes={"dockets": 4000})  # fmt: skip
    with start_sandbox(config) as sandbox:
        env = {"AIRFLOW_CONN_CL_TRANSIENT": connection(
            host=sandbox.url, password=DEMO_TOKEN,
            extra={"database_url": pg_url, "max_attempts": 1, "rates": "1/2s",
                   "safety_margin": 1.0})}  # fmt: skip
        done = installation.dags_test("cf_transient", DAY, env)
        stats = sandbox.stats()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert stats["per_status"].get("503") == 1
    assert installation.task("cf_transient", "dockets.sync") == ("success", 2), output[-3000:]
    ((history,),) = installation.query(
        "SELECT state FROM task_instance_history WHERE dag_id='cf_transient' "
        "AND task_id='dockets.sync' AND try_number=1")  # fmt: skip
    assert history in ("failed", "up_for_retry")
    result = installation.xcom("cf_transient", "dockets.sync")
    assert result["resumed"] is True  # try 2 went on from the page try 1 had stored
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        dockets = conn.execute(text("SELECT count(*) FROM cl_dockets")).scalar_one()
        task_calls = conn.execute(text(
            "SELECT count(*) FROM api_call_ledger WHERE task_id='dockets.sync'")).scalar_one()
        (pages,) = conn.execute(text(
            "SELECT pages FROM sync_checkpoints WHERE resource='dockets'")).one()
        statuses = dict(conn.execute(text(
            "SELECT coalesce(status, 0), count(*) FROM api_call_ledger GROUP BY 1")).all())
        rows = conn.execute(text("SELECT count(*) FROM cl_clusters")).scalar_one()
    engine.dispose()
    assert statuses[503] == 1 and rows > 0  # the failed attempt was reserved and counted
    # The result of try 2 covers the task: the pages try 1 stored, and every call of
    # both tries (the 503 too).
    assert (result["try_number"], result["rows"], result["pages"], result["calls"]) == (
        2, dockets, pages, task_calls)
    # Into a fresh table every row is new, the pages of try 1 (from the checkpoint) too.
    assert (result["new"], result["changed"], result["unchanged"]) == (dockets, 0, 0)
    # The clusters sensor found the budget spent by dockets and was rescheduled, not
    # run in a sleeping worker and not deferred.
    reschedules = installation.query(
        "SELECT count(*) FROM task_reschedule r JOIN task_instance t ON t.id = r.ti_id "
        "WHERE t.dag_id='cf_transient' AND t.task_id='clusters.wait_for_budget'")
    assert reschedules[0][0] >= 1, output[-3000:]


# -- 4. a tight budget: deferrals, every documented metric, and the secret kept ------------
@dataclass
class BudgetRun:
    output: str
    statsd: list[str]
    pg_url: str
    sandbox_stats: dict[str, Any]
    report: Path
    scanned_files: list[Path] = field(default_factory=list)


@pytest.fixture(scope="module")
def budget_run(installation: Installation, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[BudgetRun]:  # fmt: skip
    from courtflow.observe.report import build_report
    from courtflow.store.engine import make_engine

    # broken_every: a few records with an unparsable date_modified, set aside in sync_rejects
    # (the rejected_records metric) without stopping their window.
    faults = FaultConfig(p_503=0.15, p_429_burst=0.15, burst_retry_after=1, burst_length=1,
                         broken_every=23)
    # A 503 and a 429 with Retry-After early on, then a clean run.
    seed = fault_seed(faults, ["none", "503", "none", "429_burst", *["none"] * 12])
    config = SandboxConfig(tokens=(SECRET_TOKEN,), volumes={"dockets": 4000},
                           faults=FaultConfig(**{**faults.__dict__, "seed": seed}))  # fmt: skip
    databases = PgDatabases()
    pg_url = databases.create()
    statsd = StatsdCollector()
    try:
        with start_sandbox(config) as sandbox:
            env = {
                "AIRFLOW_CONN_CL_BUDGET": connection(
                    host=sandbox.url, password=SECRET_TOKEN,
                    # 1 record in 23 is broken: above the default 1% a window fails, so
                    # this run allows 10% (the threshold has its own scenario, cf_rejects).
                    extra={"database_url": pg_url, "rates": "1/2s", "safety_margin": 1.0,
                           "max_reject_ratio": 0.1}),
                "AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            }  # fmt: skip
            done = installation.dags_test("cf_budget", DAY, env)
            stats = sandbox.stats()
        lines = statsd.close()
        engine = make_engine(pg_url)
        report = build_report(engine, parse_rates("1/2s"),
                              tmp_path_factory.mktemp("report") / "report.html")  # fmt: skip
        yield BudgetRun(done.stdout + done.stderr, lines, pg_url, stats, report)
    finally:
        databases.drop_all()


def test_budget_waits_defer_to_the_trigger_and_the_tasks_resume_and_finish(
    installation: Installation, budget_run: BudgetRun
) -> None:
    out = budget_run.output
    for task_id in ("dockets.sync", "clusters.wait_for_budget", "clusters.sync"):
        assert installation.task("cf_budget", task_id) == ("success", 1), out[-4000:]
    # The trigger ran (in line under `dags test`) and the tasks resumed after it.
    assert out.count("[DAG TEST] running trigger in line") >= 3
    assert re.search(r"budget token:\w+ has room after", out)
    assert "resuming after" in out
    dockets = installation.xcom("cf_budget", "dockets.sync")
    clusters = installation.xcom("cf_budget", "clusters.sync")
    # The counters travel through the trigger: each resumed try adds its deferral.
    assert dockets["deferrals"] >= 2 and clusters["deferrals"] >= 1
    engine = create_engine(budget_run.pg_url)
    with engine.connect() as conn:
        stored = {r: conn.execute(text(f"SELECT count(*) FROM cl_{r}")).scalar_one()
                  for r in ("dockets", "clusters")}  # fmt: skip
        calls = dict(conn.execute(text(
            "SELECT task_id, count(*) FROM api_call_ledger WHERE dag_id='cf_budget' "
            "GROUP BY 1")).all())  # fmt: skip
        pages = dict(conn.execute(text(
            "SELECT resource, sum(pages) FROM sync_checkpoints GROUP BY 1")).all())
        done = dict(conn.execute(text("SELECT resource, bool_and(done) FROM sync_checkpoints "
                                      "GROUP BY 1")).all())  # fmt: skip
        rejected = dict(conn.execute(text(
            "SELECT resource, count(*) FROM sync_rejects GROUP BY 1")).all())  # fmt: skip
    engine.dispose()
    assert sum(rejected.values()) >= 1  # the broken records were set aside, windows done
    assert pages["dockets"] >= 3 and done == {"dockets": True, "clusters": True}
    # The result covers the whole task, every stretch between deferrals, not the last.
    for resource, result in (("dockets", dockets), ("clusters", clusters)):
        assert (result["rows"], result["pages"], result["calls"]) == (
            stored[resource], pages[resource], calls[f"{resource}.sync"]), result
        assert (result["resource"], result["scope"], result["rejected"]) == (
            resource, "", rejected.get(resource, 0))
        # Every stretch's split rides the deferrals too (a fresh table: all new).
        assert (result["new"], result["changed"], result["unchanged"]) == (
            stored[resource], 0, 0), result
        assert (result["since"], result["until"]) == (
            "2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00")
    # The Asset event carries the same totals for downstream DAGs.
    ((extra,),) = installation.query(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.uri LIKE 'courtlistener://dockets%' AND e.source_dag_id='cf_budget'")
    assert {k: json.loads(extra)[k] for k in ("rows", "new", "pages", "calls")} == {
        k: dockets[k] for k in ("rows", "new", "pages", "calls")}
    # One line per page and one summary per task; nothing repeated on resume.
    assert out.count("synced dockets") == 1 and out.count("Context impl") == 0
    assert out.count("dockets page ") == pages["dockets"]
    assert "page stored" not in out
    # Successful calls stay in the ledger, not in the task log; failed ones are logged.
    assert not re.search(r"-> 200 ok in|call \S+ 200 in", out)
    assert re.search(r"-> 503 http_error in", out)
    # The clusters sensor met the budget dockets had just spent, and deferred too.
    assert "call budget full for" in out and "deferring (worker slot freed)" in out
    # Only the injected burst was a 429: the budget itself never overspent.
    assert budget_run.sandbox_stats["throttled"] == 1


def documented_metrics() -> list[str]:
    names = re.findall(r"^\| `(courtlistener\.[^`]+)` \|", METRICS_MD.read_text(), re.M)
    assert len(names) >= 10, names
    return names


def test_statsd_receives_every_metric_documented_in_metrics_md(budget_run: BudgetRun) -> None:
    seen = {line.split(":", 1)[0] for line in budget_run.statsd}
    missing = []
    for name in documented_metrics():
        pattern = re.escape("airflow." + name)
        pattern = re.sub(r"<[a-z_]+>", "[A-Za-z0-9_-]+", pattern.replace(r"\<", "<").replace(
            r"\>", ">"))  # fmt: skip
        if not any(re.fullmatch(pattern, s) for s in seen):
            missing.append(name)
    assert not missing, (missing, sorted(s for s in seen if "courtlistener" in s))


def test_the_token_appears_nowhere(installation: Installation, budget_run: BudgetRun) -> None:
    secret = SECRET_TOKEN
    assert secret not in budget_run.output  # task logs, exceptions, Airflow's own lines
    assert not [line for line in budget_run.statsd if secret in line]
    # Every file of the installation: metadata DB (XComs, rendered fields, trigger
    # kwargs, DAG code), config and log files.
    for path in installation.home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    xcoms = installation.query("SELECT value FROM xcom WHERE dag_id='cf_budget'")
    assert xcoms and all(secret not in str(v) for (v,) in xcoms)
    assert secret not in budget_run.report.read_text()
    engine = create_engine(budget_run.pg_url)
    with engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public'")).scalars().all()
        for table in tables:
            dump = conn.execute(text(
                f'SELECT coalesce(string_agg(t::text, chr(10)), \'\') FROM "{table}" t'
            )).scalar_one()  # fmt: skip
            assert secret not in dump, table
        errors = conn.execute(text(
            "SELECT count(*) FROM api_call_ledger WHERE outcome <> 'ok'")).scalar_one()
    engine.dispose()
    assert errors >= 2  # the 503 and the 429 were recorded (and scanned above)


# -- last: the shipped scoped DAG, Supreme Court and Ninth Circuit scopes -----------------
# Last in the module: its direct calls to the sandbox (same token) would reach the other
# tests' ledgers through the api-usage reconciliation.
def _scope_ids(sandbox: RunningSandbox, resource: str, name: str, conf: dict[str, str]) -> set[int]:
    ids: set[int] = set()
    for court in ("scotus", "ca9"):
        params: dict[str, str] | None = {
            "order_by": "date_modified", name: court,
            "date_modified__gte": conf["since"], "date_modified__lt": conf["until"],
        }  # fmt: skip
        url: str | None = f"{sandbox.url}/{resource}/"
        while url is not None:
            body = httpx.get(url, params=params,
                             headers={"Authorization": f"Token {DEMO_TOKEN}"}).json()
            ids.update(r["id"] for r in body["results"])
            url, params = body["next"], None
    return ids


@pytest.mark.slow  # one more `airflow dags test` (about a minute); make test-slow runs it
def test_scoped_dag_loads_exactly_its_scopes(
    installation: Installation, sandbox: RunningSandbox, fresh_pg: Any
) -> None:
    pg_url = fresh_pg()
    env = {"AIRFLOW_CONN_COURTLISTENER_DEFAULT": connection(
        host=sandbox.url, password=DEMO_TOKEN, extra={"database_url": pg_url})}  # fmt: skip
    conf = {"since": "2024-01-01T00:00:00Z", "until": "2024-03-01T00:00:00Z"}
    run = installation.dags_test("courtlistener_scoped", conf, env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    expected = {
        "cl_dockets": _scope_ids(sandbox, "dockets", "court", conf),
        "cl_clusters": _scope_ids(sandbox, "clusters", "docket__court", conf),
        "cl_opinions": _scope_ids(sandbox, "opinions", "cluster__docket__court", conf),
    }
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            stored = {t: set(conn.execute(text(f"SELECT id FROM {t}")).scalars())
                      for t in expected}  # fmt: skip
            scopes = conn.execute(text(
                "SELECT resource, scope FROM sync_checkpoints WHERE done ORDER BY 1, 2"
            )).all()  # fmt: skip
    finally:
        engine.dispose()
    assert all(expected.values()) and stored == expected
    assert [tuple(s) for s in scopes] == sorted(
        (r, f"{f}={c}") for r, f in (("clusters", "docket__court"), ("dockets", "court"),
                                    ("opinions", "cluster__docket__court"))
        for c in ("ca9", "scotus")
    )  # fmt: skip
