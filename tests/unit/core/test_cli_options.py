"""Every command takes the common options after its name too (-v, -q, --log-format)."""

from __future__ import annotations

import argparse

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
