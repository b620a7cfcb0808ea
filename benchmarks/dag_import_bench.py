"""How long the DAG file costs to parse, beyond Airflow itself: target under 0.5 s.

    .venv/bin/python -m benchmarks.dag_import_bench [--runs 5] [--dag PATH ...]

Every shipped DAG file (dags/*.py) is measured unless ``--dag`` names some.

The scheduler's DAG processor and every task process parse the file, so its cost is
paid constantly; Airflow's own import (several seconds on a slow machine) is paid by
any DAG and is not ours. Each run uses fresh interpreters, side by side:

- baseline: a process importing what any DAG file needs from Airflow (``airflow.sdk``:
  DAG, TaskGroup, Asset, Param, the operator/sensor/hook/notifier bases, timetables,
  ``airflow.triggers.base``);
- DAG file: the same imports, then ``runpy.run_path(<dag file>)``, timed inside the
  process (the marginal cost, exactly) and as a whole process (minus the baseline:
  the same figure with process noise).

Then one ``python -X importtime`` run lists the modules the DAG file adds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 0.5

BASELINE = (
    "from airflow.sdk import DAG, Asset, BaseHook, BaseNotifier, BaseOperator, "
    "BaseSensorOperator, DeltaDataIntervalTimetable, Param, TaskGroup\n"
    "import airflow.triggers.base\n"
)
TIMED = BASELINE + (
    "import runpy, sys, time\n"
    "t = time.perf_counter()\n"
    "runpy.run_path(sys.argv[1])\n"
    "print(f'RUN_PATH={time.perf_counter() - t:.6f}')\n"
)


def _env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    return env


def _wall(code: str, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    return time.perf_counter() - started, done.stdout


def _added_modules(dag: Path, env: dict[str, str], top: int = 12) -> list[tuple[str, int]]:
    """Modules imported by the DAG file after the baseline, by cumulative microseconds."""
    code = BASELINE + "import runpy, sys\nrunpy.run_path(sys.argv[1])\n"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code, str(dag)], env=env,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    lines = done.stderr.splitlines()
    # importtime lines of the baseline come first; the DAG file's follow the last
    # top-level baseline import (airflow.triggers.base).
    marks = [i for i, line in enumerate(lines) if line.rstrip().endswith("| airflow.triggers.base")]
    added: list[tuple[str, int]] = []
    for line in lines[(marks[-1] + 1) if marks else 0:]:
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if not name.startswith("  "):  # top-level entries only (nested are indented)
                added.append((name.strip(), int(parts[1])))
    return sorted(added, key=lambda x: -x[1])[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dag", type=Path, action="append",
                        help="a DAG file (repeatable); default: every file in dags/")  # fmt: skip
    args = parser.parse_args(argv)
    dags = args.dag or sorted((REPO / "dags").glob("*.py"))
    results = [measure(dag, args.runs) for dag in dags]
    return 0 if all(results) else 1


def measure(dag: Path, runs: int) -> bool:
    """One DAG file's figures, printed; whether it is within the budget."""
    with tempfile.TemporaryDirectory(prefix="courtflow-bench-airflow-") as home:
        env = _env(home)
        _wall(BASELINE, [], env)  # warm the page cache and bytecode caches once
        rows = []
        for run in range(1, runs + 1):
            base, _ = _wall(BASELINE, [], env)
            full, out = _wall(TIMED, [str(dag)], env)
            inner = float(out.split("RUN_PATH=")[1].split()[0])
            rows.append((run, base, full, full - base, inner))
        added = _added_modules(dag, env)

    print(f"DAG file: {dag.relative_to(REPO) if dag.is_relative_to(REPO) else dag}")
    print(f"{'run':>3} | {'baseline (s)':>12} | {'DAG file (s)':>12} | {'difference (s)':>14} | "
          f"{'run_path in-process (s)':>23}")  # fmt: skip
    print("-" * 78)
    for run, base, full, diff, inner in rows:
        print(f"{run:>3} | {base:>12.3f} | {full:>12.3f} | {diff:>14.3f} | {inner:>23.3f}")
    med_inner = statistics.median(r[4] for r in rows)
    med_diff = statistics.median(r[3] for r in rows)
    med_base = statistics.median(r[1] for r in rows)
    print("-" * 78)
    print(f"median: baseline {med_base:.3f} s; DAG file adds {med_inner:.3f} s in-process "
          f"({med_diff:+.3f} s process-to-process); budget {BUDGET_SECONDS:.1f} s: "
          f"{'OK' if med_inner < BUDGET_SECONDS else 'OVER'}")  # fmt: skip
    print("\nlargest imports the DAG file adds (cumulative µs, python -X importtime):")
    for name, micros in added:
        print(f"  {micros:>9,d}  {name}")
    print()
    return med_inner < BUDGET_SECONDS


if __name__ == "__main__":
    sys.exit(main())
