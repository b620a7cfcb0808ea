"""The CLI under hostile conditions: one line and no traceback, ``reset``, refused settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox

WINDOW = ("--since", "2024-01-01", "--until", "2024-01-03")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(volumes={"dockets": 600})) as sb:
        yield sb


def courtflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "courtflow.cli", *args],
        env={**os.environ, "COURTLISTENER_API_TOKEN": DEMO_TOKEN, **env},
        capture_output=True, text=True, timeout=bound(120),
    )  # fmt: skip


def test_an_unexpected_error_is_one_line_without_traceback_unless_verbose(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    garbage = tmp_path / "not-a-database.sqlite"
    garbage.write_bytes(b"this is not SQLite " * 100)
    env = {"COURTLISTENER_API_BASE_URL": sandbox.url,
           "COURTFLOW_DATABASE_URL": f"sqlite:///{garbage}"}  # fmt: skip
    quiet = courtflow("sync", "--resource", "dockets", *WINDOW, **env)
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stderr
    # Progress lines (stderr is not a terminal) come first; the error is one line.
    errors = [ln for ln in quiet.stderr.strip().splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and quiet.stderr.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith("error: unexpected") and "-v" in errors[0]
    verbose = courtflow("-v", "sync", "--resource", "dockets", *WINDOW, **env)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_reset_clears_checkpoints_on_purpose_and_says_what(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    env = {"COURTLISTENER_API_BASE_URL": sandbox.url,
           "COURTFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite'}"}  # fmt: skip
    assert courtflow("sync", "--resource", "dockets", *WINDOW, **env).returncode == 0
    again = courtflow("sync", "--resource", "dockets", *WINDOW, **env)
    assert "already complete" in again.stderr
    none = courtflow("reset", "--resource", "clusters", **env)
    assert none.returncode == 0 and "nothing cleared" in none.stdout
    reset = courtflow("reset", "--resource", "dockets", "--since", "2024-01-02", **env)
    assert reset.returncode == 0, reset.stderr
    assert "cleared 1 checkpoint(s) of dockets" in reset.stdout
    assert "[2024-01-01T00:00:00Z, 2024-01-03T00:00:00Z) done" in reset.stdout
    refetched = courtflow("sync", "--resource", "dockets", *WINDOW, **env)
    assert refetched.returncode == 0 and "already complete" not in refetched.stderr


def test_credentials_in_the_base_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    done = courtflow("sync", "--resource", "dockets", *WINDOW,
                     COURTLISTENER_API_BASE_URL="https://bob:t0ps3cret@127.0.0.1:9/api/rest/v4",
                     COURTFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'c.sqlite'}")  # fmt: skip
    assert done.returncode == 2
    assert "t0ps3cret" not in done.stderr and "bob" not in done.stderr
    assert "must not contain credentials" in done.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("backfill", "--resource", "dockets", "--since", "2024-01-01", "--until", "2024-02-01",
          "--step-hours", "nan"), "--step-hours"),
        (("backfill", "--resource", "dockets", "--since", "0001-01-01", "--step-hours", "1"),
         "--since"),
        (("sync", "--resource", "dockets", "--since", "2024-01-01", "--until", "9999-12-31"),
         "--until"),
    ],
)  # fmt: skip
def test_edge_values_are_refused_naming_the_value(
    args: tuple[str, ...], named: str, tmp_path: Path
) -> None:
    done = courtflow(*args, COURTLISTENER_API_BASE_URL="http://127.0.0.1:9/api/rest/v4",
                     COURTFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'e.sqlite'}")  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr
