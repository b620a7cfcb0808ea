"""The CLI as a new user meets it: JSON logs, first-run messages, help, and plan's
estimate checked against the sandbox's own counts."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bounds import bound
from courtflow import __version__
from courtflow.cli import build_parser
from courtflow.run.plan import fmt_seconds, planned_pages
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox

# Every JSON line of an API call carries these (the list).
CALL_FIELDS = {
    "timestamp", "level", "event", "endpoint", "status_code", "duration_ms", "attempt",
    "budget_remaining", "resource", "scope", "run_id", "task_id",
}  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(rates=("40/min", "500/hour"))) as sb:
        yield sb


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "courtflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=bound(timeout))  # fmt: skip


def environment(sb_url: str, db: Path, **extra: str) -> dict[str, str]:
    ours = ("COURTFLOW_", "COURTLISTENER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update({"COURTLISTENER_API_BASE_URL": sb_url, "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
                "COURTFLOW_DATABASE_URL": f"sqlite:///{db}",
                "COURTFLOW_RATES": "40/min,500/hour"})  # fmt: skip
    env.update(extra)
    return env


def test_json_logs_of_a_sync_carry_every_field_and_never_the_token(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    env = environment(sandbox.url, tmp_path / "j.sqlite", COURTFLOW_LOG_FORMAT="json")
    # -v after the subcommand, the format from the environment.
    done = cli("sync", "--resource", "dockets", "--since", "2024-01-01", "--until", "2024-01-03",
               "-v", "--run-id", "manual__logs", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == len(done.stderr.splitlines()), "a non-JSON line on stderr"
    calls = [x for x in lines if x.get("event") == "call_observed"]
    assert len(calls) >= 2
    for line in calls:
        assert set(line) >= CALL_FIELDS, CALL_FIELDS - set(line)
        assert line["endpoint"] == "dockets/" and line["status_code"] == 200
        assert line["resource"] == "dockets" and line["scope"] == ""
        assert line["run_id"] == "manual__logs" and line["task_id"] == "sync.dockets"
        assert set(line["budget_remaining"]) == {"40_per_min", "500_per_hour"}
    assert all({"timestamp", "level", "event"} <= set(x) for x in lines)
    assert any(x["event"] == "page" for x in lines) and any(x["event"] == "progress" for x in lines)
    assert DEMO_TOKEN not in done.stdout + done.stderr
    # And --log-format given before the subcommand wins over the environment.
    text = cli("--log-format", "text", "-v", "sync", "--resource", "dockets", "--since",
               "2024-01-03", "--until", "2024-01-04", env=env)  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert " INFO courtflow.observe call dockets/ 200" in text.stderr
    assert not any(line.startswith("{") for line in text.stderr.splitlines())
    assert DEMO_TOKEN not in text.stdout + text.stderr


def test_a_missing_token_is_named_before_any_call(tmp_path: Path) -> None:
    env = environment("http://127.0.0.1:9/api/rest/v4", tmp_path / "t.sqlite")
    del env["COURTLISTENER_API_TOKEN"]
    done = cli("sync", "--resource", "dockets", "--since", "2024-01-01", env=env, timeout=30)
    assert done.returncode == 2
    assert "COURTLISTENER_API_TOKEN is not set" in done.stderr
    assert "anonymous access" in done.stderr and "100 requests a day" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_base_url_is_named_while_retrying(tmp_path: Path) -> None:
    env = environment("http://127.0.0.1:9/api/rest/v4", tmp_path / "u.sqlite")
    proc = subprocess.Popen(
        [sys.executable, "-m", "courtflow.cli", "plan", "--resource", "dockets", "--since",
         "2024-01-01"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    first = proc.stderr.readline()  # arrives while the client retries, not at the end
    still_running = proc.poll() is None
    rest = proc.communicate(timeout=bound(120))[1]
    assert still_running, "the first word came only when the command had given up"
    assert "http://127.0.0.1:9/api/rest/v4/" in first and "ConnectError" in first
    assert re.search(r"retry 2/\d+ in \d", first)
    assert proc.returncode != 0
    assert "could not reach http://127.0.0.1:9/api/rest/v4 (COURTLISTENER_API_BASE_URL)" in rest


def test_a_server_that_is_not_courtlistener_is_named(tmp_path: Path) -> None:
    with start_sandbox(SandboxConfig()) as sb:
        wrong = sb.url.rsplit("/api/rest/v4", 1)[0] + "/somewhere/else"
        env = environment(wrong, tmp_path / "w.sqlite")
        done = cli("plan", "--resource", "dockets", "--since", "2024-01-01", env=env)
    assert done.returncode != 0
    assert "does not answer like the CourtListener REST API v4" in done.stderr or (
        "is the CourtListener REST API v4" in done.stderr
    ), done.stderr


def test_version_and_help_for_every_option_without_markup() -> None:
    env = dict(os.environ)
    version = cli("--version", env=env, timeout=30)
    assert version.stdout.strip() == f"courtflow {__version__}"
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    from courtflow.sandbox.__main__ import build_parser as sandbox_parser

    # `courtflow sandbox ...` is handed to the sandbox's own parser: check that one.
    listed = [(n, p) for n, p in subparsers.choices.items() if n != "sandbox"]
    for name, sub in [("", parser), *listed, ("sandbox", sandbox_parser())]:
        for action in sub._actions:
            assert action.help, f"courtflow {name} {action.option_strings or action.dest}: no help"
        text = sub.format_help()
        assert "``" not in text and "**" not in text and ":func:" not in text, name
    top = cli("--help", env=env, timeout=30).stdout
    assert "status" in top and "``" not in top


# Windows longer than any test may run (pytest's timeout): no call leaves them between
# plan's reading of the server and ours, however slow the host.
PLAN_RATES = ("40/10min", "500/day")


def test_plan_uses_the_sandbox_counts_and_every_window(tmp_path: Path) -> None:
    with start_sandbox(SandboxConfig(rates=PLAN_RATES)) as sandbox:
        rates = {"COURTFLOW_RATES": ",".join(PLAN_RATES)}
        # 30 calls spent elsewhere with the same token (another database: external usage).
        elsewhere = environment(sandbox.url, tmp_path / "elsewhere.sqlite", **rates)
        spent = cli("sync", "--resource", "clusters", "--since", "2024-01-01", "--until",
                    "2024-01-20", "-q", env=elsewhere)  # fmt: skip
        assert spent.returncode == 0, spent.stderr
        env = environment(sandbox.url, tmp_path / "plan.sqlite", **rates)
        done = cli("plan", "--resource", "dockets", "--since", "2024-01-01", "--until",
                   "2024-02-01", env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        usage = httpx.get(f"{sandbox.url}/api-usage/", headers=headers).json()
        count = httpx.get(f"{sandbox.url}/dockets/", headers=headers,
                          params={"date_modified__gte": "2024-01-01T00:00:00Z",
                                  "date_modified__lt": "2024-02-01T00:00:00Z",
                                  "count": "on"}).json()["count"]  # fmt: skip
    server = {row["rate"]: row for row in usage["current_usage"] if row["scope"] == "user"}
    # 31 daily windows (backfill's default step), each ending on a partial page.
    pages = planned_pages(count, 31, 20)
    assert pages > -(-count // 20)
    assert f": {count} records in 31 windows of 24h -> about {pages} calls" in done.stdout
    windows = dict(re.findall(r"^\s+(\S+/\S+)\s+used/limit (\d+)/", done.stdout, re.M))
    # The ledger learnt the other database's calls from api-usage/ (external usage) and
    # counted plan's own count call: the server's numbers, read before our check's count.
    assert int(windows["500/day"]) == int(server["500/day"]["used"]) >= 30
    assert int(windows["40/10min"]) == int(server["40/10min"]["used"])
    window_left = 40 - int(windows["40/10min"])
    assert pages > window_left, "the test needs more pages than the short window has left"
    wait = fmt_seconds(600 * math.ceil((pages - window_left) / 40))
    assert f"budget: about {wait} of budget time (limited by 40/10min)" in done.stdout, done.stdout
    assert "500/day" in done.stdout and "room for all of them" in done.stdout


def test_plan_says_now_when_the_budget_has_room(tmp_path: Path) -> None:
    with start_sandbox(SandboxConfig(rates=("5000/hour",))) as sb:
        env = environment(sb.url, tmp_path / "now.sqlite", COURTFLOW_RATES="5000/hour")
        done = cli("plan", "--resource", "dockets", "--since", "2024-01-01", "--until",
                   "2024-01-15", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "room now" in done.stdout and "budget: room now for all" in done.stdout


def test_a_sync_run_from_cron_books_its_calls_for_the_next_run(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, text

    sandbox.state.reset_throttle()
    db = tmp_path / "cron.sqlite"
    env = environment(sandbox.url, db)
    before = datetime.now(UTC)
    done = cli("sync", "--resource", "clusters", "--since", "2024-01-01", "--until",
               "2024-01-20", "--book-next", "1h", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    calls = json.loads(done.stdout.strip().splitlines()[-1])["api_calls"]
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        ((priority, need, due),) = conn.execute(
            text("SELECT priority, need, due_at FROM api_budget_bookings")).all()  # fmt: skip
    engine.dispose()
    due_at = datetime.fromisoformat(str(due)).replace(tzinfo=UTC)
    assert priority == "incremental" and need == calls > 0
    assert before + timedelta(hours=1) <= due_at <= datetime.now(UTC) + timedelta(hours=1)
    assert "booked" in done.stderr
    bad = cli("sync", "--resource", "clusters", "--since", "2024-01-01", "--book-next", "soon",
              env=env)  # fmt: skip
    assert bad.returncode == 2 and "argument --book-next: 'soon': expected a duration" in bad.stderr
