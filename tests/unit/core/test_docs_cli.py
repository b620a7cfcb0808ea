"""docs/cli.md lists exactly the commands the CLI has, with their own help text."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from courtflow.cli import build_parser

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def _commands() -> dict[str, str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    raise AssertionError("the CLI has no subcommands")


def test_the_commands_table_is_the_parser() -> None:
    rows = re.findall(r"^\| `courtflow (\S+)` \| (.*) \|$", DOC.read_text(), re.M)
    assert dict(rows) == _commands()
