"""``courtflow --help`` and ``--version`` start without the heavy libraries (issue 25):
SQLAlchemy, httpx, Alembic and rich load only in the commands that use them. Checked
on the modules a fresh interpreter holds afterwards, not on a timing (that is
benchmarks/cli_start_bench.py, side by side with ``python -c pass``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "httpx", "alembic", "rich", "tenacity", "psycopg")
PROBE = """
import sys
from courtflow.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    print("exit", exc.code, file=sys.stderr)
found = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("HEAVY=" + ",".join(found), file=sys.stderr)
"""


def loaded(*argv: str) -> tuple[set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *argv],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modules = done.stderr.rsplit("HEAVY=", 1)[1].strip()
    return {m.split(".")[0] for m in modules.split(",") if m}, done.stdout


@pytest.mark.parametrize("argv", [("--help",), ("--version",), ("sync", "--help")])
def test_help_and_version_import_none_of_the_heavy_libraries(argv: tuple[str, ...]) -> None:
    heavy, out = loaded(*argv)
    assert heavy == set(), f"{' '.join(argv)} imported {sorted(heavy)}"
    assert "courtflow" in out  # it did print its help or version


def test_the_probe_would_see_a_heavy_import() -> None:
    # The control: a command that does use SQLAlchemy shows up, so an empty set above
    # means the libraries were really not imported.
    done = subprocess.run(
        [sys.executable, "-c", "import sys, courtflow.cli, courtflow.store.engine; "
         f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "sqlalchemy" in done.stdout


def test_resource_choices_are_still_checked_and_listed() -> None:
    from courtflow.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser(search=False).parse_args(
            ["sync", "--resource", "nope", "--since", "2024-01-01"]
        )
    parser = build_parser(search=False)
    sync = parser._subparsers._group_actions[0].choices["sync"]  # type: ignore[union-attr]
    help_text = sync.format_help()
    assert "dockets" in help_text and "clusters" in help_text
