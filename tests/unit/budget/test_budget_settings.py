"""The budget's settings (margin, class, shares) and the CLI's --priority."""

from __future__ import annotations

import pytest

from courtflow.cli import build_parser
from courtflow.config import Settings
from courtflow.errors import ConfigError


def test_the_margin_is_learned_by_default_up_to_one_second() -> None:
    settings = Settings.from_env({})
    assert settings.learn_margin and settings.safety_margin == 1.0
    assert Settings.from_env({"COURTFLOW_SAFETY_MARGIN": "auto"}).learn_margin


def test_a_number_fixes_the_margin() -> None:
    settings = Settings.from_env({"COURTFLOW_SAFETY_MARGIN": "0.25"})
    assert not settings.learn_margin and settings.safety_margin == 0.25
    with pytest.raises(ConfigError, match="COURTFLOW_SAFETY_MARGIN"):
        Settings.from_env({"COURTFLOW_SAFETY_MARGIN": "fast"})


def test_priority_and_minimum_shares_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"COURTFLOW_PRIORITY": "Interactive", "COURTFLOW_MIN_SHARES": "backfill=0.1"}
    )
    assert settings.priority == "interactive" and settings.min_shares == "backfill=0.1"
    assert Settings.from_env({}).priority is None
    with pytest.raises(ConfigError, match="COURTFLOW_PRIORITY"):
        Settings.from_env({"COURTFLOW_PRIORITY": "urgent"})
    with pytest.raises(ConfigError, match="min share"):
        Settings.from_env({"COURTFLOW_MIN_SHARES": "backfill=2"})


def test_cli_priority_is_a_known_class() -> None:
    window = ["--resource", "dockets", "--since", "2024-01-01"]
    args = build_parser().parse_args(["sync", *window, "--priority", "INTERACTIVE"])
    assert args.priority == "interactive"
    assert build_parser().parse_args(["backfill", *window]).priority is None  # its default
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sync", *window, "--priority", "urgent"])


def test_commands_default_to_their_class_unless_told_otherwise() -> None:
    from argparse import Namespace

    from courtflow.cli import _with_priority

    plain, preset = Settings.from_env({}), Settings.from_env({"COURTFLOW_PRIORITY": "interactive"})
    assert _with_priority(Namespace(priority=None), plain, "backfill").priority == "backfill"
    assert _with_priority(Namespace(priority=None), preset, "backfill").priority == "interactive"
    told = _with_priority(Namespace(priority="incremental"), preset, "backfill")
    assert told.priority == "incremental"


@pytest.mark.parametrize(
    ("run_type", "expected"),
    [("backfill", "backfill"), ("scheduled", "incremental"), ("manual", "incremental"),
     (None, "incremental")],
)  # fmt: skip
def test_backfill_runs_are_backfill_and_other_runs_incremental(
    run_type: str | None, expected: str
) -> None:
    from types import SimpleNamespace

    from courtflow.airflow.windows import run_priority

    assert run_priority(SimpleNamespace(run_type=run_type)) == expected
