"""``make demo``: the real ``courtlistener_pipeline`` DAG, end to end, offline.

Airflow's metadata and the target database are SQLite files under ``.demo/``; the
CourtListener sandbox plays the API. Ends with one JSON line:
``{"resources": {...}, "api_calls": n, "throttled": n, "errors": n}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from courtflow.resources import get_resources

DAG_ID = "courtlistener_pipeline"
RESOURCES = ("courts", "dockets", "clusters", "opinions")
SINCE = "2024-01-01T00:00:00+00:00"
UNTIL = "2024-01-15T00:00:00+00:00"


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
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "courtflow.sandbox", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if not line.startswith("SANDBOX_URL="):
                _fail("the sandbox did not start", log)
            yield line.split("=", 1)[1]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


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


def main() -> int:
    root = Path.cwd()
    demo = root / ".demo"
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
            },
        )
        print(f"sandbox API at {url}; target database {db_url}", file=sys.stderr)
        if not (demo / "airflow" / "airflow.db").exists():
            print("initialising Airflow metadata (SQLite)...", file=sys.stderr)
        _run([airflow, "db", "migrate"], env, log, "airflow db migrate")
        # The pool caps concurrent API tasks; the call budget caps the rate.
        _run([sys.executable, "-m", "courtflow.airflow.setup", "--pool-slots", "4"],
             env, log, "python -m courtflow.airflow.setup")
        print(f"running `airflow dags test {DAG_ID}` over [{SINCE}, {UNTIL})...", file=sys.stderr)
        conf = json.dumps({"since": SINCE, "until": UNTIL})
        _run([airflow, "dags", "test", DAG_ID, UNTIL, "-c", conf], env, log, "airflow dags test")

    from courtflow.budget.rates import parse_rates
    from courtflow.observe.report import build_report
    from courtflow.store.engine import make_engine
    from courtflow.summary import summarize

    engine = make_engine(db_url)
    summary = summarize(engine, get_resources(RESOURCES), since=started)
    report = build_report(engine, parse_rates("5000/hour"), demo / "report.html")
    print(f"\ncourtflow demo finished in {time.monotonic() - t0:.0f}s (Airflow log: {log})")
    print(f"HTML report: {report}")
    print(summary.human())
    print(summary.as_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
