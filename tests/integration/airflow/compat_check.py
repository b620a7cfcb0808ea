"""``make compat``: the built wheel with the oldest and the newest supported Airflow.

Run before a release (it installs from PyPI into fresh virtual environments, so it is
not part of ``make test``):

1. build the wheel (``uv build``);
2. core only: a fresh environment with ``courtflow`` alone has no Airflow, statsd or
   Slack SDK, and ``courtflow sync`` loads a window from the sandbox;
3. for the oldest (the floor of ``apache-airflow`` in the ``airflow`` extra) and the
   newest Airflow PyPI offers within the range: ``courtflow[airflow]`` installs, the
   provider and the plugin register, and ``airflow dags test`` of a factory DAG and of
   the TaskFlow example succeeds against the sandbox, loading rows.

    .venv/bin/python tests/integration/airflow/compat_check.py [--airflow 3.2.0 newest]

Prints one line per check and a table; exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# The Makefile passes its own uv command (``uv`` or ``python -m uv``).
UV = os.environ.get("UV", "uv").split()
DAY = {"since": "2024-01-02T00:00:00Z", "until": "2024-01-03T00:00:00Z"}
FACTORY_DAG = '''
from courtflow.airflow.dag_factory import build_dag

dag = build_dag({"dag_id": "compat_factory", "resources": ["courts", "dockets"],
                 "schedule": "0 6 * * *", "min_deferral": 0})
'''


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    detail: str


def sh(cmd: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 1800,
       cwd: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(list(cmd), env=dict(env) if env is not None else None, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def tail(done: subprocess.CompletedProcess[str], lines: int = 25) -> str:
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-lines:])


def airflow_floor() -> str:
    """The lowest Airflow the ``airflow`` extra allows (``>=3.2`` -> ``3.2.0``)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (spec,) = [s for s in project["optional-dependencies"]["airflow"]
               if s.startswith("apache-airflow")]  # fmt: skip
    match = re.search(r">=\s*([\d.]+)", spec)
    if match is None:
        raise SystemExit(f"no lower bound in {spec!r}")
    parts = [*match.group(1).split("."), "0", "0"][:3]
    return ".".join(parts)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "COURTFLOW_", "COURTLISTENER_", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def build_wheel(out: Path) -> Path:
    done = sh([*UV, "build", "--wheel", "--out-dir", str(out)], cwd=REPO)
    if done.returncode != 0:
        raise SystemExit("uv build failed:\n" + tail(done))
    (wheel,) = out.glob("courtflow-*.whl")
    return wheel


def venv(path: Path, *requirements: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A fresh virtual environment with ``requirements`` from PyPI (uv's cache helps)."""
    made = sh([*UV, "venv", "-q", "--python", sys.executable, str(path)])
    if made.returncode != 0:
        return path / "bin", made
    done = sh([*UV, "pip", "install", "-q", "--python", str(path / "bin" / "python"),
               *requirements], env=clean_env())  # fmt: skip
    return path / "bin", done


def core_only(wheel: Path, work: Path, sandbox_url: str, token: str) -> list[Check]:
    started = time.monotonic()
    bin_dir, done = venv(work / "core", str(wheel))
    if done.returncode != 0:
        return [Check("core: pip install courtflow", False, time.monotonic() - started,
                      tail(done))]  # fmt: skip
    checks = [Check("core: pip install courtflow", True, time.monotonic() - started, "")]
    probe = sh([str(bin_dir / "python"), "-c",
                "import importlib.util as u, json; print(json.dumps([m for m in "
                "('airflow', 'statsd', 'slack_sdk') if u.find_spec(m)]))"])  # fmt: skip
    present = json.loads(probe.stdout.strip() or '["?"]')
    checks.append(Check("core: no airflow, statsd or slack_sdk installed", present == [], 0.0,
                        f"present: {present}" if present else ""))  # fmt: skip
    started = time.monotonic()
    env = clean_env(COURTLISTENER_API_BASE_URL=sandbox_url, COURTLISTENER_API_TOKEN=token,
                    COURTFLOW_DATABASE_URL=f"sqlite:///{work / 'core.sqlite'}")  # fmt: skip
    command = [str(bin_dir / "courtflow"), "sync", "--resource", "dockets",
               "--since", DAY["since"], "--until", DAY["until"]]  # fmt: skip
    synced = sh(command, env=env, timeout=600)
    summary = synced.stdout.strip().splitlines()[-1] if synced.stdout.strip() else ""
    rows = json.loads(summary).get("table_totals", {}).get("dockets", 0) if summary.startswith(
        "{") else 0  # fmt: skip
    checks.append(Check("core: courtflow sync against the sandbox", synced.returncode == 0
                        and rows > 0, time.monotonic() - started,
                        f"dockets={rows}" if synced.returncode == 0 else tail(synced)))  # fmt: skip
    return checks


def with_airflow(label: str, pin: str | None, wheel: Path, work: Path, sandbox_url: str,
                 token: str) -> list[Check]:  # fmt: skip
    started = time.monotonic()
    requirements = [f"courtflow[airflow] @ {wheel.as_uri()}"]
    if pin:
        requirements.append(f"apache-airflow=={pin}")
    bin_dir, done = venv(work / f"airflow-{label}", *requirements)
    if done.returncode != 0:
        return [Check(f"{label}: pip install courtflow[airflow]", False,
                      time.monotonic() - started, tail(done))]  # fmt: skip
    version = sh([str(bin_dir / "python"), "-c",
                  "import airflow; print(airflow.__version__)"]).stdout.strip()  # fmt: skip
    checks = [Check(f"{label}: pip install courtflow[airflow] -> Airflow {version}", True,
                    time.monotonic() - started, "")]  # fmt: skip
    home, dags = work / f"home-{label}", work / f"dags-{label}"
    dags.mkdir(parents=True)
    (dags / "compat_factory.py").write_text(FACTORY_DAG)
    shutil.copy(REPO / "dags" / "examples" / "courtlistener_taskflow.py", dags)
    target = work / f"target-{label}.sqlite"
    env = clean_env(
        AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_COURTLISTENER_DEFAULT=json.dumps({
            "conn_type": "courtlistener", "host": sandbox_url, "password": token,
            "extra": {"database_url": f"sqlite:///{target}"}}),
    )  # fmt: skip
    airflow = str(bin_dir / "airflow")
    started = time.monotonic()
    migrated = sh([airflow, "db", "migrate"], env=env, timeout=600)
    checks.append(Check(f"{label}: airflow db migrate", migrated.returncode == 0,
                        time.monotonic() - started, tail(migrated) if migrated.returncode
                        else ""))  # fmt: skip
    if migrated.returncode != 0:
        return checks
    listed = sh([airflow, "plugins", "-o", "json"], env=env, timeout=300)
    providers = sh([airflow, "providers", "get", "courtflow"], env=env, timeout=300)
    registered = "courtflow" in listed.stdout and providers.returncode == 0
    checks.append(Check(f"{label}: provider and plugin registered", registered, 0.0,
                        "" if registered else tail(listed) + tail(providers)))  # fmt: skip
    for dag_id in ("compat_factory", "courtlistener_taskflow_example"):
        started = time.monotonic()
        ran = sh([airflow, "dags", "test", dag_id, DAY["until"], "-c", json.dumps(DAY)],
                 env=env, timeout=900)  # fmt: skip
        rows = 0
        if target.exists():
            with sqlite3.connect(target) as db:
                rows = db.execute("SELECT count(*) FROM cl_dockets").fetchone()[0]
        with sqlite3.connect(home / "airflow.db") as db:
            states = [r[0] for r in db.execute(
                "SELECT state FROM dag_run WHERE dag_id=?", (dag_id,))]  # fmt: skip
        ok = ran.returncode == 0 and rows > 0 and states == ["success"]
        detail = f"dockets={rows}" if ok else f"runs {states}\n{tail(ran)}"
        checks.append(Check(f"{label}: airflow dags test {dag_id}", ok,
                            time.monotonic() - started, detail))  # fmt: skip
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--airflow", nargs="+", default=None,
                        help="versions to try ('newest' = PyPI's newest in range); "
                             "default: the floor and newest")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the environments")
    args = parser.parse_args(argv)
    versions = args.airflow or [airflow_floor(), "newest"]
    sys.path.insert(0, str(REPO / "src"))
    from courtflow.sandbox import DEMO_TOKEN
    from courtflow.sandbox.config import SandboxConfig
    from courtflow.sandbox.server import start_sandbox

    work = Path(tempfile.mkdtemp(prefix="courtflow-compat-"))
    checks: list[Check] = []
    try:
        wheel = build_wheel(work / "dist")
        print(f"wheel: {wheel.name}", flush=True)
        with start_sandbox(SandboxConfig()) as sandbox:
            for check in core_only(wheel, work, sandbox.url, DEMO_TOKEN):
                checks.append(check)
                print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}", flush=True)
            for version in versions:
                pin = None if version == "newest" else version
                for check in with_airflow(version, pin, wheel, work, sandbox.url, DEMO_TOKEN):
                    checks.append(check)
                    print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n| check | result | seconds |\n| --- | --- | --- |")
    for check in checks:
        print(f"| {check.name} | {'ok' if check.ok else 'FAILED'} | {check.seconds:.0f} |")
    failed = [c for c in checks if not c.ok]
    for check in failed:
        print(f"\n--- {check.name}\n{check.detail}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
