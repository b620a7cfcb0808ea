"""The sandbox in a process of its own, for callers whose work runs in other processes
(the demo's Airflow tasks, the soak's cron-style runs)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO


class SandboxStartError(RuntimeError):
    """The sandbox process ended or spoke before saying where it listens."""


@contextmanager
def sandbox_process(args: Sequence[str], *, stderr: IO[str] | None = None) -> Iterator[str]:
    """``python -m courtflow.sandbox --port 0 ARGS``; its base URL while the block runs.

    The process prints ``SANDBOX_URL=<url>`` once listening; it is stopped (terminated,
    killed after 10 s) when the block ends.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "courtflow.sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("SANDBOX_URL="):
            raise SandboxStartError(f"the sandbox did not start: {line!r}")
        yield line.split("=", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
