"""``courtflow budget`` shows each window from the ledger and from api-usage/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN, SandboxConfig, start_sandbox


def test_budget_command_shows_ledger_and_server_windows(tmp_path: Path) -> None:
    with start_sandbox(SandboxConfig(rates=("5/min", "50/hour"))) as sb:
        env = {
            **os.environ,
            "COURTLISTENER_API_BASE_URL": sb.url,
            "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
            "COURTFLOW_RATES": "5/min,50/hour",
            "COURTFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite'}",
        }
        sync = subprocess.run(
            [
                sys.executable,
                "-m",
                "courtflow.cli",
                "sync",
                "--resource",
                "dockets",
                "--since",
                "2024-01-01",
                "--until",
                "2024-01-02",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=bound(120),
        )
        assert sync.returncode == 0, sync.stderr
        out = subprocess.run(
            [sys.executable, "-m", "courtflow.cli", "budget"],
            env=env,
            capture_output=True,
            text=True,
            timeout=bound(60),
        )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    ledger = [line for line in lines if line.strip().startswith("5/min") and "room" in line]
    server = [line for line in lines if line.strip().startswith("5/min") and "reset_at" in line]
    assert ledger and server, out.stdout
    used = int(ledger[0].split("used/limit ")[1].split("/")[0])
    assert 1 <= used <= 5
    assert DEMO_TOKEN not in out.stdout + out.stderr
