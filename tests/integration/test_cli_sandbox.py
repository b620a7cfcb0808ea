"""``courtflow sandbox`` starts the sandbox with its own options."""

from __future__ import annotations

import subprocess
import sys

import httpx

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN


def test_courtflow_sandbox_serves_with_its_options() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "courtflow.cli", "sandbox", "--port", "0", "--rates", "2/min"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("SANDBOX_URL="), proc.stderr.read() if proc.stderr else line
        url = line.split("=", 1)[1]
        usage = httpx.get(f"{url}/api-usage/", headers={"Authorization": f"Token {DEMO_TOKEN}"})
        rates = [row["rate"] for row in usage.json()["current_usage"] if row["scope"] == "user"]
        assert rates == ["2/min"]
    finally:
        proc.terminate()
        proc.wait(timeout=bound(10))
