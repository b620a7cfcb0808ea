"""Bad set-up gets a clear message naming the problem."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bounds import bound
from courtflow.config import Settings
from courtflow.errors import ConfigError
from courtflow.store.engine import make_engine

REPO = Path(__file__).resolve().parents[2]


def test_make_names_a_python_that_is_too_old(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text('#!/bin/sh\n[ "$1" = "--version" ] && echo "Python 3.9.18" && exit 0\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    # A fresh .venv marker forces the set-up step to run.
    result = subprocess.run(
        ["make", "-s", "-B", "setup", f"PYTHON={fake}"],
        cwd=REPO, capture_output=True, text=True, timeout=bound(60),
    )
    assert result.returncode != 0
    assert "needs Python >= 3.11" in result.stderr and "3.9.18" in result.stderr


def test_unreachable_postgres_is_named() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/courtflow"
    with pytest.raises(ConfigError, match=r"target database unreachable at .*127\.0\.0\.1:1"):
        make_engine(url)


def test_cli_reports_a_malformed_token_without_a_traceback() -> None:
    env = {**os.environ, "COURTLISTENER_API_TOKEN": "not-a-token"}
    result = subprocess.run(
        [sys.executable, "-m", "courtflow.cli", "budget", "--ledger-only"],
        env=env, capture_output=True, text=True, timeout=bound(60),
    )
    assert result.returncode == 2
    assert "COURTLISTENER_API_TOKEN is malformed" in result.stderr
    assert "Traceback" not in result.stderr and "not-a-token" not in result.stderr


def test_settings_reject_a_malformed_base_url() -> None:
    with pytest.raises(ConfigError, match="COURTLISTENER_API_BASE_URL is malformed"):
        Settings.from_env({"COURTLISTENER_API_BASE_URL": "courtlistener"})
