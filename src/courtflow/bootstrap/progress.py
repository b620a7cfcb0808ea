"""Progress of a bootstrap: rows, rows/s and an ETA from the compressed bytes read.

On a terminal one line is redrawn; otherwise (logs, Airflow) a plain line is written at
most every ``interval`` seconds, so a long load leaves a readable trail.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Call :meth:`update` after each chunk and :meth:`finish` at the end of a file."""

    def __init__(
        self, label: str, total_bytes: int | None, *, stream: TextIO | None = None,
        interval: float = 10.0,
    ) -> None:  # fmt: skip
        self.label = label
        self.total = total_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.started = time.monotonic()
        self._last = self.started
        self.rows = self.written = 0
        self.done_bytes = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.rows / elapsed
        parts = [f"{self.label}: {self.rows:,} rows ({self.written:,} written)",
                 f"{rate:,.0f} rows/s"]  # fmt: skip
        if self.total:
            fraction = min(self.done_bytes / self.total, 1.0)
            parts.append(f"{fraction:.0%}")
            if fraction > 0:
                parts.append(f"eta {_clock(elapsed * (1 - fraction) / fraction)}")
        parts.append(f"elapsed {_clock(elapsed)}")
        return "  ".join(parts)

    def update(
        self, rows: int, written: int, done_bytes: int, total_bytes: int | None = None
    ) -> None:
        self.rows, self.written, self.done_bytes = rows, written, done_bytes
        self.total = total_bytes if total_bytes is not None else self.total
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.line() + "  ")
            self.stream.flush()
        elif now - self._last >= self.interval:
            self._last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(("\r" if self.tty else "") + self.line() + "\n")
        self.stream.flush()
