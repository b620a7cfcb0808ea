"""``courtflow backfill`` and ``courtflow plan`` against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(latency_ms=30)) as sb:
        yield sb


def run(sb: RunningSandbox, db: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "COURTLISTENER_API_BASE_URL": sb.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "courtflow.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


ARGS = (
    "backfill",
    "--resource",
    "clusters",
    "--since",
    "2024-01-01",
    "--until",
    "2024-01-07",
    "--step-hours",
    "24",
)


def test_backfill_stopped_midway_resumes_and_ends_with_the_summary(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'b.sqlite'}"
    first = run(sandbox, db, *ARGS)
    engine = create_engine(db)
    deadline = time.monotonic() + bound(60)
    done = 0
    while done < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            with engine.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM sync_checkpoints WHERE done")
                ).scalar_one()
        except Exception:
            done = 0
    first.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = first.communicate(timeout=bound(30))
    assert "windows" in err and "calls" in err  # the progress was shown

    second = run(sandbox, db, *ARGS)
    out, err = second.communicate(timeout=bound(120))
    assert second.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    with engine.connect() as conn:
        windows = conn.execute(
            text("SELECT count(*) FROM sync_checkpoints WHERE done")
        ).scalar_one()
        rows = conn.execute(text("SELECT count(*) FROM cl_clusters")).scalar_one()
    engine.dispose()
    assert windows == 6
    assert summary["table_totals"]["clusters"] == rows > 0
    assert summary["throttled"] == 0 and summary["errors"] == 0


def test_plan_counts_the_range_and_says_what_it_costs(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'p.sqlite'}"
    proc = run(
        sandbox,
        db,
        "plan",
        "--resource",
        "dockets",
        "--since",
        "2024-01-01",
        "--until",
        "2024-02-01",
    )
    out, err = proc.communicate(timeout=bound(60))
    assert proc.returncode == 0, err
    assert "records" in out and "cost 1 call" in out and "budget: room now for all" in out
