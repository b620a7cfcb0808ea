"""make demo: the real courtlistener_pipeline DAG, end to end, offline, under a budget.

Airflow's metadata and the target database are SQLite files under .demo/; the
CourtListener sandbox plays the API and enforces a compressed rate list (RATES), so the
budget's work shows within a minute or two: the DAG's tasks and a courtflow backfill of
docket-entries in another process share it and ride every limit with no 429. Beside
them, for the same time, the naive reference design (a pool, a sensor on an hourly
counter, backoff; courtflow.demo.naive) runs against the same sandbox with a token
of its own; the report draws both side by side. Ends with one JSON line, courtflow's own
run only: {"stored": {resource: {"new": n, "changed": n, "unchanged": n}}, "table_totals":
{...}, "api_calls": n, "throttled": n, ...}, where "stored" sums the checkpoints of the
windows courtflow's runs wrote (the DAG's tasks and the backfill beside them).
A rerun spends no call on courtflow's side and keeps the first run's comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from courtflow.budget.rates import parse_rates
from courtflow.catalogue.resources import get_resources
from courtflow.observe.compare import DesignRun, design_run_from_ledger, whole_windows

DAG_ID = "courtlistener_pipeline"
RESOURCES = ("courts", "dockets", "clusters", "opinions")
# A second courtflow process shares the token's budget with the DAG while it runs.
BESIDE = "docket-entries"
SINCE = "2024-01-01T00:00:00+00:00"
UNTIL = "2024-01-10T00:00:00+00:00"
# The backfill beside the DAG has more work than the DAG, so courtflow always has a call
# ready when room appears, until the DAG ends (the compared period).
BESIDE_UNTIL = "2024-01-25T00:00:00+00:00"
# The sandbox enforces this; courtflow is told the same (and learns it from api-usage/).
RATES = "10/10s,40/60s"
# The naive design's own (fake) token: the sandbox throttles each token on its own.
NAIVE_TOKEN = "feedfacecafebeef" + "0" * 24
COMPARISON_FILE = "comparison.json"


def _fail(message: str, log: Path | None = None) -> None:
    print(f"demo failed: {message}", file=sys.stderr)
    if log is not None and log.exists():
        tail = log.read_text(errors="replace").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        print(f"(full log: {log})", file=sys.stderr)
    raise SystemExit(1)


@contextmanager
def sandbox_process(log: Path) -> Iterator[str]:
    """Run the sandbox in its own process (Airflow runs tasks in other processes)."""
    from courtflow.sandbox import DEMO_TOKEN
    from courtflow.sandbox.process import SandboxStartError
    from courtflow.sandbox.process import sandbox_process as started

    args = ["--rates", RATES, "--token", DEMO_TOKEN, "--token", NAIVE_TOKEN]
    with log.open("w") as err:
        try:
            with started(args, stderr=err) as url:
                yield url
        except SandboxStartError:
            _fail("the sandbox did not start", log)


def _run(cmd: list[str], env: Mapping[str, str], log: Path, what: str) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        code = subprocess.call(cmd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        _fail(f"{what} exited with status {code}", log)


def airflow_env(root: Path, demo: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "COURTFLOW_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(demo / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    env.update(extra)
    return env


@contextmanager
def naive_beside(url: str, demo: Path) -> Iterator[list[DesignRun]]:
    """The naive reference design against the same sandbox while the block runs."""
    from courtflow.demo.naive import run_until

    stop, runs = threading.Event(), []
    thread = threading.Thread(
        target=lambda: runs.append(run_until(url, NAIVE_TOKEN, parse_rates(RATES),
                                             f"sqlite:///{demo / 'naive.sqlite'}", stop)),
        daemon=True,
    )  # fmt: skip
    thread.start()
    try:
        yield runs
    finally:
        stop.set()
        thread.join(timeout=60)


def _dag_calls(db_url: str, launched: datetime) -> tuple[datetime | None, datetime | None]:
    """The first and the last call the DAG's tasks reserved after ``launched``."""
    from sqlalchemy import create_engine, func, select

    from courtflow.budget.tables import api_call_ledger
    from courtflow.observe.history import as_utc

    L = api_call_ledger.c
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            first, last = conn.execute(
                select(func.min(L.reserved_at), func.max(L.reserved_at)).where(
                    L.dag_id.is_not(None), L.reserved_at >= launched)
            ).one()
    except Exception:  # the table appears with the first task's migration
        return None, None
    finally:
        engine.dispose()
    return as_utc(first), as_utc(last)


def _first_dag_call(db_url: str, dag: subprocess.Popen[bytes], launched: datetime,
                    timeout: float = 600.0) -> datetime | None:
    """When the DAG's first task reserved its first call after ``launched`` (Airflow takes
    a while to start its tasks); None if the DAG ended without calling (a rerun)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first, _ = _dag_calls(db_url, launched)
        if first is not None:
            return first
        if dag.poll() is not None:
            return None
        time.sleep(0.2)
    _fail(f"the DAG made no call within {timeout:.0f}s")
    return None


def _start_beside(env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`courtflow backfill` of another resource in its own process, sharing the budget."""
    cmd = [sys.executable, "-m", "courtflow.cli", "backfill", "--resource", BESIDE,
           "--since", SINCE, "--until", BESIDE_UNTIL, "--step-hours", "48"]  # fmt: skip
    with log.open("w") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        return subprocess.Popen(cmd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)


def _comparison(
    demo: Path, ours: DesignRun, naive: Sequence[DesignRun]
) -> tuple[DesignRun, ...]:
    """This run's pair; on a rerun that spent no call, the pair of the run that did."""
    saved = demo / COMPARISON_FILE
    if ours.calls > 0 and naive:
        pair = (ours, naive[0])
        saved.write_text(json.dumps([d.to_json() for d in pair]))
        return pair
    if saved.exists():
        return tuple(DesignRun.from_json(d) for d in json.loads(saved.read_text()))
    return (ours, *naive[:1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m courtflow.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=".demo", help="where the demo keeps its files")
    args = parser.parse_args(argv)
    root = Path.cwd()
    demo = Path(args.dir).resolve()
    (demo / "airflow").mkdir(parents=True, exist_ok=True)
    log = demo / "airflow.log"
    log.write_text("")
    db_url = f"sqlite:///{demo / 'courtflow.sqlite'}"
    airflow = str(Path(sys.executable).parent / "airflow")
    from courtflow.sandbox import DEMO_TOKEN

    started = datetime.now(UTC) - timedelta(seconds=1)
    t0 = time.monotonic()
    with sandbox_process(demo / "sandbox.log") as url:
        env = airflow_env(
            root,
            demo,
            {
                "COURTLISTENER_API_BASE_URL": url,
                "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
                "COURTFLOW_DATABASE_URL": db_url,
                "COURTFLOW_RATES": RATES,
                # Waits of a full 60 s window sleep in the task rather than defer.
                "COURTFLOW_MAX_SLEEP": "90",
            },
        )
        print(f"sandbox API at {url} enforcing {RATES}; target database {db_url}",
              file=sys.stderr)  # fmt: skip
        if not (demo / "airflow" / "airflow.db").exists():
            print("initialising Airflow metadata (SQLite)...", file=sys.stderr)
        _run([airflow, "db", "migrate"], env, log, "airflow db migrate")
        # The pool caps concurrent API tasks; the call budget caps the rate.
        _run([sys.executable, "-m", "courtflow.airflow.setup", "--pool-slots", "4"],
             env, log, "python -m courtflow.airflow.setup")
        print(f"running `airflow dags test {DAG_ID}` over [{SINCE}, {UNTIL}), and the naive "
              "reference design beside it...", file=sys.stderr)  # fmt: skip
        conf = json.dumps({"since": SINCE, "until": UNTIL})
        cmd = [airflow, "dags", "test", DAG_ID, UNTIL, "-c", conf]
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(cmd)}\n")
            out.flush()
            launched = datetime.now(UTC)
            dag = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        # The clock begins once Airflow runs the DAG's first task: from then on courtflow
        # (the DAG and a backfill beside it) and the naive design get the same time.
        first = _first_dag_call(db_url, dag, launched)
        clock = first or datetime.now(UTC)
        with naive_beside(url, demo) as naive:
            beside = _start_beside(env, demo / "backfill.log")
            if dag.wait() != 0:
                beside.kill()
                _fail(f"airflow dags test exited with status {dag.returncode}", log)
            # The period ends with the DAG's last call, not with Airflow's tear-down.
            dag_finished = _dag_calls(db_url, launched)[1] or datetime.now(UTC)
        if beside.wait(timeout=900) != 0:
            _fail(f"courtflow backfill --resource {BESIDE} exited with status "
                  f"{beside.returncode}", demo / "backfill.log")  # fmt: skip

    from courtflow.config import Settings
    from courtflow.observe.report import build_report
    from courtflow.redact import Secret
    from courtflow.run.summary import summarize
    from courtflow.store.engine import make_engine

    engine = make_engine(db_url)
    key = Settings(token=Secret(DEMO_TOKEN)).budget_key
    summary = summarize(engine, get_resources((*RESOURCES, BESIDE)), since=started)
    # Compared over the DAG's run, from its first call, in whole windows of the longest
    # rate (observe.compare.whole_windows); the backfill beside it keeps courtflow's calls
    # coming all that time (and finishes its own work after).
    rates = parse_rates(RATES)
    end = whole_windows(rates, clock.timestamp(), dag_finished.timestamp())
    ours = design_run_from_ledger(engine, "courtflow", since=clock, until=dag_finished,
                                  budget_key=key).between(clock.timestamp(), end)  # fmt: skip
    same = [n.between(clock.timestamp(), end) for n in naive]
    pair = _comparison(demo, ours, same)
    report = build_report(engine, parse_rates(RATES), demo / "report.html", budget_key=key,
                          comparison=pair, title="courtflow demo report")  # fmt: skip
    print(f"\ncourtflow demo finished in {time.monotonic() - t0:.0f}s (Airflow log: {log})")
    print(f"HTML report: {report}")
    for design in pair:
        share = design.share_of_allowed(parse_rates(RATES))
        print(f"  {design.name:<24} {design.calls:>4} calls, {design.throttled:>3} x 429 "
              f"in {design.seconds:.0f}s at {RATES}: {share:.0%} of the calls the rates allow",
              file=sys.stderr)  # fmt: skip
    print(summary.human())
    print(summary.as_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
