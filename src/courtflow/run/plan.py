"""How long the budget needs to serve ``n`` calls, from every window's current usage.

Pure: the caller reads the budget's ``usage()`` (the ledger, external usage learnt from
``api-usage/`` included). A window with room for all the calls costs no wait; one that
lacks room releases ``limit`` calls per ``period`` once its current calls expire, so the
slowest window decides::

    estimate = plan_calls(22, budget.usage())
    estimate.wait_seconds   # 0.0: room now
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from courtflow.budget.rates import parse_rates

PAGE_SIZE = 20  # the API's fixed page size on the main v4 endpoints


@dataclass(frozen=True)
class WindowRoom:
    """One window's part of the estimate."""

    rate: str
    used: int
    limit: int
    remaining: int
    first_room_in: float  # seconds until this window admits a call (0: now)
    wait_seconds: float  # until this window has let all the calls through


@dataclass(frozen=True)
class PlanEstimate:
    calls: int
    windows: tuple[WindowRoom, ...]

    @property
    def wait_seconds(self) -> float:
        return max((w.wait_seconds for w in self.windows), default=0.0)

    @property
    def slowest(self) -> WindowRoom | None:
        slow = max(self.windows, key=lambda w: w.wait_seconds, default=None)
        return slow if slow is not None and slow.wait_seconds > 0 else None

    @property
    def room_now(self) -> bool:
        return all(w.remaining > 0 for w in self.windows)


class UsageLike(Protocol):  # the fields of courtflow.budget.budget.WindowUsage read here
    @property
    def rate(self) -> str: ...

    @property
    def used(self) -> int: ...

    @property
    def limit(self) -> int: ...

    @property
    def remaining(self) -> int: ...

    @property
    def available_at(self) -> float: ...


def plan_calls(calls: int, usage: Sequence[UsageLike], now: float) -> PlanEstimate:
    """The budget time ``calls`` more calls need, given each window's usage at ``now``."""
    rooms = []
    for w in usage:
        period = parse_rates(w.rate)[0].period
        first = max(0.0, w.available_at - now) if w.remaining <= 0 else 0.0
        extra = calls - w.remaining
        if extra <= 0 or w.limit <= 0:
            wait = 0.0 if w.limit > 0 else math.inf
        else:
            # The window's current calls leave within one period (the first of them at
            # `first`); after that it admits `limit` calls per period.
            wait = max(first, period * math.ceil(extra / w.limit))
        rooms.append(WindowRoom(w.rate, w.used, w.limit, w.remaining, first, wait))
    return PlanEstimate(calls, tuple(rooms))


def fmt_seconds(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``2h 10m``, ``3d 4h``."""
    if not math.isfinite(seconds):
        return "never"
    total = math.ceil(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def planned_pages(count: int, windows: int, page_size: int) -> int:
    """The pages (calls) a walk of ``count`` records split into ``windows`` windows takes.

    Every window ends on its own partial last page, and an empty window still costs one
    (empty) page, so a count of the whole range divided by the page size undercounts by
    about half a page per window. Without a count per window (one call each, too dear on
    a small quota), the records are taken as spread at random over the windows: each
    window's count is Poisson with mean ``count / windows``; the expectation, rounded.
    """
    if windows < 1 or page_size < 1:
        raise ValueError("planned_pages needs at least one window and a page size >= 1")
    if count <= 0:
        return windows
    if windows == 1:  # the count is the window's own: exact
        return math.ceil(count / page_size)
    per_window = _expected_pages(count / windows, page_size)
    return max(windows, round(per_window * windows))


def _expected_pages(mean: float, page_size: int) -> float:
    """E[max(1, ceil(X / page_size))] for X ~ Poisson(mean): 1 + sum over k >= 1 of
    P(X > k * page_size)."""
    if mean / page_size > 200:
        # Many pages: the last page's fill is near uniform, (p - 1) / 2p of a page short.
        return mean / page_size + (page_size - 1) / (2 * page_size)
    total = 1.0
    cdf = 0.0
    log_mean = math.log(mean)
    top = int(mean + 12 * math.sqrt(mean) + page_size)
    for x in range(top + 1):
        cdf += math.exp(-mean + x * log_mean - math.lgamma(x + 1))
        if x >= page_size and x % page_size == 0:
            total += max(0.0, 1.0 - cdf)
    return total
