"""Backfill progress on a terminal (a pseudo-terminal: rich's live display) and redirected
(plain lines): calls and rows counted as they happen, budget waits and retries told with
their reason and countdown."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN, FaultConfig, RunningSandbox, SandboxConfig, start_sandbox

RATES = "4/2s"
ARGS = ("backfill", "--resource", "clusters", "--since", "2024-01-01", "--until", "2024-01-05")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    faults = FaultConfig(seed=7, p_500=0.15)
    with start_sandbox(SandboxConfig(rates=(RATES,), faults=faults)) as sb:
        yield sb


def environment(sb: RunningSandbox, db: Path) -> dict[str, str]:
    ours = ("COURTFLOW_", "COURTLISTENER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update({"COURTLISTENER_API_BASE_URL": sb.url, "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
                "COURTFLOW_DATABASE_URL": f"sqlite:///{db}", "COURTFLOW_RATES": RATES,
                "TERM": "xterm-256color", "COLUMNS": "160"})  # fmt: skip
    return env


def final_counts(text: str) -> dict[str, int]:
    """The counters of the last progress line or frame."""
    found = re.findall(r"windows (\d+)/(\d+)\s+pages (\d+)\s+rows (\d+)\s+calls (\d+)\s+429s (\d+)"
                       r"\s+retries (\d+)", text)  # fmt: skip
    assert found, text[-2000:]
    w, total, pages, rows, calls, throttled, retries = map(int, found[-1])
    return {"windows": w, "total": total, "pages": pages, "rows": rows, "calls": calls,
            "429s": throttled, "retries": retries}  # fmt: skip


def test_redirected_progress_is_plain_lines_with_waits_and_retries(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.state.reset_throttle()
    done = subprocess.run([sys.executable, "-m", "courtflow.cli", *ARGS],
                          env=environment(sandbox, tmp_path / "plain.sqlite"),
                          capture_output=True, text=True, timeout=bound(180))  # fmt: skip
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "\r" not in err and "\x1b" not in err, "terminal codes in a redirected stream"
    assert err.startswith("backfill clusters: started\n")
    waits = re.findall(r"waiting for the budget: 4/2s full; next attempt in (\d+\.\d)s", err)
    assert waits and all(0 < float(w) <= 3.0 for w in waits), err
    # (an HTML error page is summed up by its title: "HTTP 500: Server Error (500)")
    assert re.search(r"ServerError on http://127\.0\.0\.1:\d+/api/rest/v4/clusters/: HTTP 500"
                     r"(: [^;<]{1,120})?;"
                     r" retry 2/5; next attempt in \d+\.\ds", err), err  # fmt: skip
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    counts = final_counts(err)
    assert counts["windows"] == counts["total"] == 4
    assert counts["calls"] == summary["api_calls"] and counts["calls"] >= counts["pages"] > 0
    assert counts["rows"] == summary["table_totals"]["clusters"]
    assert counts["retries"] == summary["errors"] >= 1  # every failed attempt was retried
    assert DEMO_TOKEN not in err


def test_progress_on_a_terminal_is_a_live_display(sandbox: RunningSandbox, tmp_path: Path) -> None:
    sandbox.state.reset_throttle()
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "courtflow.cli", *ARGS],
                            env=environment(sandbox, tmp_path / "tty.sqlite"),
                            stdout=subprocess.PIPE, stderr=slave, text=True)  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 180)
        if not ready:
            proc.kill()
            pytest.fail("no output from the backfill for 180 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate(timeout=bound(60))
    assert proc.returncode == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert ANSI.search(screen), "no live display on a terminal"
    plain = ANSI.sub("", screen)
    assert "backfill clusters: started" not in plain  # the redirected form is not used
    assert re.search(r"waiting for the budget: 4/2s full: next attempt in \d+\.\ds", plain), plain
    assert "budget 4/2s" in plain
    summary = json.loads(out.strip().splitlines()[-1])
    counts = final_counts(plain)
    assert counts["windows"] == 4 and counts["calls"] == summary["api_calls"]
    assert counts["rows"] == summary["table_totals"]["clusters"]
    # Frames are redrawn in place: the counters are seen rising, not only at the end.
    seen_calls = {int(c) for c in re.findall(r"calls (\d+)", plain)}
    assert len(seen_calls) >= 3, seen_calls
