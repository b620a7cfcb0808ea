"""The core installs and runs without Airflow: `pip install courtflow` (no extras) is a
complete CLI. Checked in a fresh interpreter where Airflow, statsd and the Slack SDK
cannot be imported at all."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys

BLOCKED = ("airflow", "statsd", "slack_sdk")

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed in a core-only environment")
        return None

sys.meta_path.insert(0, Block())
import courtflow
skipped = ("courtflow.airflow", "courtflow.store.migrations.")  # env.py runs under Alembic
names = [m.name for m in pkgutil.walk_packages(courtflow.__path__, "courtflow.")
         if not m.name.startswith(skipped)]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
from courtflow import cli
try:
    cli.main(["--help"])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"modules": len(names), "failed": failed, "help_exit": code,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)}))
"""


def test_every_core_module_and_the_cli_work_without_airflow_statsd_or_slack() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["modules"] > 30
    assert report["failed"] == {}
    assert report["help_exit"] == 0 and report["loaded"] == []


def test_the_package_metadata_keeps_airflow_optional() -> None:
    from importlib.metadata import requires

    needs = requires("courtflow") or []
    core = [r for r in needs if "extra ==" not in r]
    assert not [r for r in core if r.split()[0].lower().startswith(("apache-airflow", "statsd"))]
    airflow = [r for r in needs if r.startswith(("apache-airflow<", "apache-airflow>"))]
    assert airflow and "extra == 'airflow'" in airflow[0], needs
    assert ">=3.3" in airflow[0] and "<4" in airflow[0]
