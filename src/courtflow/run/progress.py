"""Progress of a long load that tells the truth: calls and rows as they happen, budget
waits and retries with their reason and countdown.

On a terminal it is a live ``rich`` display; when stderr is redirected it writes plain
lines (one at most every ``interval`` seconds, plus one for every wait and retry), never
carriage returns or escape codes. Any command that loads (sync, backfill, bootstrap)
uses it the same way::

    with open_progress("backfill dockets", total=len(windows)) as progress:
        with open_pipeline(settings, gate_wrapper=progress.gate) as p:
            progress.attach(p.budget)
            for w in windows:
                result = sync_window(..., on_page=progress.on_page)
                progress.window_done(skipped=result.skipped)

``progress.gate`` wraps the call gate to count every HTTP attempt when it is reported;
``on_retry`` hears the client's retries (from the first call, api-usage/ included) and
``attach`` listens to the budget's waits.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from courtflow.budget.rates import parse_rates
from courtflow.client.courtlistener import CourtListenerClient, RetryEvent
from courtflow.client.gate import CallGate, CallReport, Ticket
from courtflow.run.plan import UsageLike
from courtflow.run.summary import Stored

log = logging.getLogger("courtflow.progress")
DAY = 86_400.0


class _Budget(Protocol):
    wait_listeners: list[Callable[[float, str], None]]

    def usage(self) -> Sequence[UsageLike]: ...


@dataclass(frozen=True)
class Hold:
    """Why nothing is being sent right now, and until when (``time.monotonic()``)."""

    kind: str  # "budget" | "retry"
    reason: str
    until: float

    def left(self, now: float) -> float:
        return max(0.0, self.until - now)


class Progress:
    """Counters of one load and their rendering; thread-safe (rich refreshes in a thread)."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        stream: IO[str] | None = None,
        live: bool | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
        as_log: bool = False,
    ) -> None:
        self.label = label
        self.enabled = enabled
        self.as_log = as_log
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self.started = clock()
        self.windows = self.skipped = self.pages = self.rows = 0
        self.calls = self.throttled = self.retries = self.failed = 0
        self.hold: Hold | None = None
        self.budget_line = ""
        self._budget: _Budget | None = None
        self._last_line = -math.inf
        self._live: Live | None = None

    # -- hooks ---------------------------------------------------------------------
    def gate(self, inner: CallGate) -> CallGate:
        """``open_pipeline(gate_wrapper=progress.gate)``: counts each reported attempt."""
        return _CountingGate(inner, self)

    def attach(self, budget: _Budget | None, client: CourtListenerClient | None = None) -> None:
        """Listen to the budget's waits (and the client's retries, unless already given
        to ``open_pipeline(on_retry=progress.on_retry)``)."""
        if budget is not None:
            self._budget = budget
            budget.wait_listeners.append(self.on_budget_wait)
        if client is not None and self.on_retry not in client.retry_listeners:
            client.retry_listeners.append(self.on_retry)

    def on_call(self, report: CallReport) -> None:
        with self._lock:
            self.calls += 1
            self.throttled += report.status == 429
            self.failed += report.outcome != "ok"
            self.hold = None
        self._maybe_line()

    def on_page(self, _spec: object, _checkpoint: object, stored: Stored) -> None:
        """A page was stored (``sync_window(on_page=...)``'s signature)."""
        self.on_rows(stored.new + stored.changed)

    def on_rows(self, rows: int) -> None:
        """A page of ``rows`` written was stored (search hits, or a sync page's rows)."""
        with self._lock:
            self.pages += 1
            self.rows += rows
        self._refresh_budget()
        self._maybe_line()

    def window_done(self, *, skipped: bool = False) -> None:
        with self._lock:
            self.windows += 1
            self.skipped += skipped
        self._maybe_line()

    def on_budget_wait(self, seconds: float, reason: str) -> None:
        full = self._refresh_budget()
        if full:
            reason = f"{', '.join(u.rate for u in full)} full"
            days = [u for u in full if _period(u.rate) >= DAY]
            if days:
                # A day's quota spent is the wait a cron user most needs the end of.
                reason += f" (the day's room returns at {iso_z(days[0].available_at)})"
        hold = Hold("budget", f"waiting for the budget: {reason}", self._clock() + seconds)
        # Sub-second waits are the budget pacing calls, not news for a plain log.
        self._hold(hold, say=seconds >= 1.0, event="budget_wait",
                   full=[u.rate for u in full])  # fmt: skip

    def on_retry(self, event: RetryEvent) -> None:
        with self._lock:
            self.retries += 1
        reason = (f"{event.error_class} on {event.url}: {event.reason}; "
                  f"retry {event.attempt + 1}/{event.max_attempts}")  # fmt: skip
        self._hold(Hold("retry", reason, self._clock() + event.wait_seconds), event="retry",
                   error_class=event.error_class, attempt=event.attempt + 1)  # fmt: skip

    # -- rendering -----------------------------------------------------------------
    def _hold(self, hold: Hold, *, say: bool = True, event: str, **fields: Any) -> None:
        with self._lock:
            self.hold = hold
        if self._live is None and say:
            # Waits and retries are news: always one line, with the countdown's start and
            # the instant it ends (a cron log is read later).
            left = hold.left(self._clock())
            at = iso_z(time.time() + left)
            self._write(f"{self.label}: {hold.reason}; next attempt in {left:.1f}s (at {at})",
                        event=event, wait_seconds=round(left, 3), until=at, **fields)

    def _refresh_budget(self) -> list[UsageLike]:
        """Re-read the budget's windows; returns the full ones."""
        if self._budget is None:
            return []
        try:
            usage = self._budget.usage()
        except Exception:  # a display must never break the load it shows
            return []
        # used/limit, said so: "10/10" alone could be read as remaining.
        line = "  ".join(f"{u.rate} used {u.used}/{u.limit}" for u in usage)
        with self._lock:
            self.budget_line = line
        return [u for u in usage if u.remaining <= 0]

    def counts(self) -> str:
        elapsed = self._clock() - self.started
        windows = f"windows {self.windows}/{self.total}  " if self.total else ""
        return (f"{windows}pages {self.pages}  rows {self.rows}  calls {self.calls}  "
                f"429s {self.throttled}  retries {self.retries}  elapsed {elapsed:.0f}s"
                f"{f'  eta {self.eta():.0f}s' if self.eta() is not None else ''}")  # fmt: skip

    def eta(self) -> float | None:
        """From the pace so far over the windows left (None before the first window)."""
        if not self.total or not self.windows or self.windows >= self.total:
            return None
        elapsed = self._clock() - self.started
        return elapsed / self.windows * (self.total - self.windows)

    def _maybe_line(self) -> None:
        if self._live is not None:
            return
        now = self._clock()
        if now - self._last_line >= self.interval:
            self._write(self.plain_line())

    def plain_line(self) -> str:
        budget = f"  budget {self.budget_line}" if self.budget_line else ""
        return f"{self.label}: {self.counts()}{budget}"

    def _write(self, line: str, *, event: str = "progress", **fields: Any) -> None:
        self._last_line = self._clock()
        if not self.enabled:
            return
        if self.as_log:
            # JSON logs on stderr: progress is one more JSON line, not loose text.
            log.info(line, extra={"event": event, "pages": self.pages, "rows": self.rows,
                                  "calls": self.calls, "windows": self.windows,
                                  **fields})  # fmt: skip
            return
        self.stream.write(line + "\n")
        self.stream.flush()

    def __rich__(self) -> Group:
        now = self._clock()
        head = Text(self.label, style="bold")
        parts: list[Any] = [head]
        if self.total:
            parts.append(ProgressBar(total=self.total, completed=self.windows, width=40))
        parts.append(Text(self.counts()))
        if self.budget_line:
            parts.append(Text(f"budget {self.budget_line}", style="cyan"))
        hold = self.hold
        if hold is not None and hold.left(now) > 0:
            style = "yellow" if hold.kind == "budget" else "red"
            parts.append(Text(f"{hold.reason}: next attempt in {hold.left(now):.1f}s", style=style))
        return Group(*parts)

    # -- lifetime ------------------------------------------------------------------
    def start(self) -> None:
        if self.live and self.enabled and not self.as_log:
            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._live = Live(self, console=console, refresh_per_second=4, transient=False)
            self._live.start()
        else:
            self._write(f"{self.label}: started", event="start")

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        else:
            self._write(self.plain_line())


class _CountingGate:
    """A :class:`CallGate` that tells the progress about every reported attempt."""

    def __init__(self, inner: CallGate, progress: Progress) -> None:
        self.inner = inner
        self._progress = progress

    def reserve(self, endpoint: str) -> Ticket:
        return self.inner.reserve(endpoint)

    def report(self, ticket: Ticket, report: CallReport) -> None:
        self.inner.report(ticket, report)
        self._progress.on_call(report)

    def throttled(self, retry_after: float) -> None:
        self.inner.throttled(retry_after)


@contextmanager
def open_progress(
    label: str,
    *,
    total: int | None = None,
    stream: IO[str] | None = None,
    live: bool | None = None,
    interval: float = 5.0,
    enabled: bool = True,
    as_log: bool = False,
) -> Iterator[Progress]:
    """A started :class:`Progress`; the final counts are shown when the block ends.

    ``enabled=False`` (``-q``) counts without showing anything.
    """
    progress = Progress(
        label, total=total, stream=stream, live=live, interval=interval, enabled=enabled,
        as_log=as_log,
    )
    progress.start()
    try:
        yield progress
    finally:
        progress.stop()


def say_retries(
    stream: IO[str] | None = None, *, enabled: bool = True
) -> Callable[[RetryEvent], None]:
    """For commands without a progress display: a retry listener writing one line each."""
    out = stream if stream is not None else sys.stderr

    def tell(event: RetryEvent) -> None:
        if enabled:
            out.write(retry_line(event) + "\n")
            out.flush()

    return tell


def log_retries() -> Callable[[RetryEvent], None]:
    """:func:`say_retries` for JSON logs: one ``retry`` event per retry."""

    def tell(event: RetryEvent) -> None:
        log.info(retry_line(event), extra={"event": "retry", "error_class": event.error_class,
                                           "attempt": event.attempt + 1,
                                           "wait_seconds": event.wait_seconds})  # fmt: skip

    return tell


def _period(rate: str) -> float:
    try:
        return parse_rates(rate)[0].period
    except Exception:  # a display never fails on a label it cannot read
        return 0.0


def iso_z(epoch: float) -> str:
    """``2026-12-07T16:05:03Z``: an instant for a human reading a log later."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )


def retry_line(event: RetryEvent) -> str:
    return (
        f"{event.error_class} on {event.url}: {event.reason}; "
        f"retry {event.attempt + 1}/{event.max_attempts} in {event.wait_seconds:.1f}s"
    )
