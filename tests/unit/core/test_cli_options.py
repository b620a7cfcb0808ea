"""Every command takes the common options after its name too (-v, -q, --log-format)."""

from __future__ import annotations

import argparse

import pytest

from courtflow.cli import build_parser


def test_every_command_takes_the_common_options_after_its_name() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        if name == "sandbox":  # handed to the sandbox's own parser
            continue
        options = {o for a in sub._actions for o in a.option_strings}
        assert {"-v", "-q", "--quiet", "--log-format"} <= options, name


def test_bootstrap_options_after_the_command_do_not_reset_those_before() -> None:
    parser = build_parser()
    args = parser.parse_args(["--log-format", "json", "bootstrap", "--file", "x.csv.bz2", "-vv"])
    assert (args.log_format, args.verbose, args.quiet) == ("json", 2, False)
    args = parser.parse_args(["bootstrap", "--file", "x.csv.bz2", "--quiet"])
    assert args.quiet and args.log_format is None


def test_every_duration_option_is_checked_when_the_command_line_is_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    cases = [
        ["sync", "--resource", "dockets", "--max-wait", "soon"],
        ["sync", "--resource", "dockets", "--lookback", "1w"],
        ["sync", "--resource", "dockets", "--book-next", "hourly"],
        ["sync", "--resource", "dockets", "--retention=-1d"],
        ["backfill", "--resource", "dockets", "--since", "2024-01-01", "--max-wait", "x"],
        ["audit", "--resource", "dockets", "--max-wait", "5 min"],
        ["bootstrap", "--file", "x.csv.bz2", "--overlap", "2w"],
    ]
    for argv in cases:
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2, argv
        err = capsys.readouterr().err
        option = next(a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0]
                      in ("--max-wait", "--lookback", "--book-next", "--retention", "--overlap"))
        assert f"argument {option}: " in err, err
        assert "expected a duration" in err or "between 0 and 366 days" in err, err
    # A good value is kept as written (messages quote it).
    args = parser.parse_args(["sync", "--resource", "dockets", "--max-wait", "30m"])
    assert args.max_wait == "30m"
