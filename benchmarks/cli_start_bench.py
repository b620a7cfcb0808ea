"""How fast ``courtflow --help`` and ``--version`` start: target under 0.3 s.

    .venv/bin/python -m benchmarks.cli_start_bench [--runs 15]

A cron user pays the start of every run, and ``--help`` is the first thing a new user
types. Each round runs, side by side in fresh interpreters and in a shuffled order:

- ``python -c pass``: the interpreter alone (the floor);
- ``python -c "import argparse, logging, json"``: the standard library a CLI needs;
- ``courtflow --help`` and ``courtflow --version`` (the installed entry point).

Reported: median and minimum wall seconds of each, and each command's median as a
ratio to the floor's (the machine is shared and noisy: the ratio, and the minimum,
say more than one absolute figure). Then which heavy modules ``--help`` imports (none
of SQLAlchemy, httpx, Alembic, rich should be listed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("sqlalchemy", "httpx", "alembic", "rich", "tenacity", "psycopg")


def _entry_point() -> list[str]:
    script = Path(sys.executable).with_name("courtflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "courtflow.cli"]


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    entry = _entry_point()
    contenders = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "stdlib (argparse, logging, json)": [
            sys.executable, "-c", "import argparse, logging, json",
        ],
        "courtflow --help": [*entry, "--help"],
        "courtflow --version": [*entry, "--version"],
    }  # fmt: skip
    for cmd in contenders.values():  # warm the file cache and .pyc files
        _time(cmd)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        order = list(contenders)
        random.shuffle(order)
        for name in order:
            times[name].append(_time(contenders[name]))
    floor = statistics.median(times["python -c pass"])
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'x pass':>7}")
    for name, seen in times.items():
        median = statistics.median(seen)
        print(f"{name:<36} {median:9.3f} {min(seen):7.3f} {median / floor:7.1f}")
    probe = (
        "import sys; from courtflow.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)  # fmt: skip
    heavy = done.stderr.rsplit("HEAVY=", 1)[1].strip()
    print(f"heavy modules imported by --help: {heavy or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
