"""The CLI on a small quota, against the sandbox (issue 25).

- It waits for the budget by default and, with ``--max-wait``, exits 75 (EX_TEMPFAIL)
  saying when room returns and which option to change; its place in the queue goes
  with it.
- ``--log-format json``: every stderr line of a succeeding run (with budget waits and
  retries) and of failing runs (a refused token, a wait too long) is one JSON object,
  at default verbosity: start, progress, waits, retries, the summary, errors with
  ``level``, ``error_class`` and ``hint``. ``-v`` adds one event per call.
- ``plan`` counts each window's partial last page: within 5% of the calls a real
  ``backfill --step-hours 24`` makes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from courtflow.budget.tables import api_budget_tickets
from courtflow.sandbox import DEMO_TOKEN, FaultConfig, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.store.engine import make_engine

pytestmark = pytest.mark.timeout(300)
RATES = "2/3s"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    faults = FaultConfig(seed=7, p_500=0.3)
    with start_sandbox(SandboxConfig(rates=(RATES,), faults=faults)) as sb:
        yield sb


@pytest.fixture(scope="module")
def clean_sandbox() -> Iterator[RunningSandbox]:
    """No faults, generous rates, records spread unevenly over the days."""
    config = SandboxConfig(rates=("1000/min",), volumes={"clusters": 1700, "dockets": 300})
    with start_sandbox(config) as sb:
        yield sb


def environment(sb: RunningSandbox, db: Path, rates: str = RATES,
                token: str = DEMO_TOKEN) -> dict[str, str]:  # fmt: skip
    ours = ("COURTFLOW_", "COURTLISTENER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update({"COURTLISTENER_API_BASE_URL": sb.url, "COURTLISTENER_API_TOKEN": token,
                "COURTFLOW_DATABASE_URL": f"sqlite:///{db}", "COURTFLOW_RATES": rates})  # fmt: skip
    return env


def courtflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courtflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=240)  # fmt: skip


def json_lines(stderr: str) -> list[dict[str, object]]:
    """Every stderr line, parsed: fails on the first one that is not a JSON object."""
    events = []
    for number, line in enumerate(stderr.splitlines(), 1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"stderr line {number} is not JSON: {line!r}")
        assert isinstance(event, dict), line
        assert {"timestamp", "level", "message", "event"} <= set(event), line
        events.append(event)
    return events


BACKFILL = ("backfill", "--resource", "clusters", "--since", "2024-01-01", "--until", "2024-01-04")


def test_json_mode_every_stderr_line_of_a_succeeding_run_is_an_event(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox.state.reset_throttle()
    done = courtflow(environment(sandbox, tmp_path / "ok.sqlite"), "--log-format", "json",
                     *BACKFILL)  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stderr)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start"
    assert "progress" in kinds and "budget_wait" in kinds and "retry" in kinds, kinds
    assert kinds[-1] == "summary" and "call_observed" not in kinds  # per call: -v only
    wait = next(e for e in events if e["event"] == "budget_wait")
    assert wait["full"] == [RATES] and float(str(wait["wait_seconds"])) > 0
    retry = next(e for e in events if e["event"] == "retry")
    assert retry["error_class"] == "ServerError" and retry["level"] == "info"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["api_calls"] > 0
    assert DEMO_TOKEN not in done.stderr


def test_json_mode_with_v_adds_one_event_per_call(
    clean_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    done = courtflow(environment(clean_sandbox, tmp_path / "v.sqlite", rates="1000/min"),
                     "--log-format", "json", "-v", "sync", "--resource", "courts",
                     "--since", "2024-01-01")  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stderr)
    calls = [e for e in events if e["event"] == "call_observed"]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(calls) == summary["api_calls"] > 0


def test_json_mode_errors_are_events_with_class_and_hint(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    refused = courtflow(environment(sandbox, tmp_path / "bad.sqlite", token="f" * 40),
                        "--log-format", "json", *BACKFILL)  # fmt: skip
    assert refused.returncode == 2
    events = json_lines(refused.stderr)
    error = events[-1]
    assert error["level"] == "error" and error["event"] == "error"
    assert error["error_class"] == "AuthError"
    assert "COURTLISTENER_API_TOKEN" in str(error["hint"])
    assert not str(error["hint"]).startswith("hint:")

    no_token = environment(sandbox, tmp_path / "none.sqlite")
    del no_token["COURTLISTENER_API_TOKEN"]
    missing = courtflow(no_token, "--log-format", "json", *BACKFILL)
    assert missing.returncode == 2
    assert json_lines(missing.stderr)[-1]["error_class"] == "ConfigError"


def test_max_wait_exceeded_exits_75_with_when_room_returns_and_leaves_no_ticket(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    db = tmp_path / "wait.sqlite"
    env = environment(sandbox, db, rates="2/hour")
    sandbox.state.reset_throttle()
    first = courtflow(env, "sync", "--resource", "courts", "--since", "2024-01-01",
                      "--max-wait", "1m")  # fmt: skip
    assert first.returncode == 75, first.stderr  # 2 calls an hour cannot walk courts
    text = first.stderr.strip().splitlines()[-1]
    assert text.startswith("error (BudgetExhaustedError): call budget: 2/hour full (2/2 used)")
    assert "is longer than --max-wait 1m" in text
    assert re.search(r"Rerun after \d{4}-\d\d-\d\dT[\d:]+Z", text)

    late = courtflow(env, "--log-format", "json", "sync", "--resource", "courts",
                     "--since", "2024-01-01", "--max-wait", "10m")  # fmt: skip
    assert late.returncode == 75
    error = json_lines(late.stderr)[-1]
    assert error["error_class"] == "BudgetExhaustedError" and error["exit_code"] == 75
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(error["room_at"]))
    with make_engine(f"sqlite:///{db}").begin() as conn:
        assert conn.execute(select(api_budget_tickets.c.id)).all() == []


def test_plan_counts_each_windows_partial_last_page(
    clean_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    env = environment(clean_sandbox, tmp_path / "plan.sqlite", rates="1000/min")
    window = ("--resource", "clusters", "--since", "2024-01-01", "--until", "2024-03-01")
    plan = courtflow(env, "plan", *window)
    assert plan.returncode == 0, plan.stderr
    found = re.search(r"(\d+) records in (\d+) windows of 24h -> about (\d+) calls", plan.stdout)
    assert found, plan.stdout
    records, windows, planned = map(int, found.groups())
    assert records == 1700 and windows == 60
    backfill = courtflow(env, "backfill", "--step-hours", "24", *window)
    assert backfill.returncode == 0, backfill.stderr
    made = json.loads(backfill.stdout.strip().splitlines()[-1])["api_calls"]
    # The plan without partial pages (records / 20) would be 85: far below.
    assert abs(planned - made) <= 0.05 * made, (planned, made)
    assert made > 1700 / 20 * 1.1
