"""Pure computations behind the history: percentiles and sliding-window counts. No I/O."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence


def percentile_cont(sorted_values: Sequence[float], q: float) -> float:
    """PostgreSQL's ``percentile_cont``: linear interpolation between closest ranks.

    ``sorted_values`` must be sorted ascending and non-empty; ``q`` in [0, 1].
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile fraction must be in [0, 1], got {q}")
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    low, high = sorted_values[lo], sorted_values[hi]
    return float(low + (high - low) * (pos - lo))


def sample_times(start: float, end: float, points: int) -> list[float]:
    """``points`` evenly spaced instants from ``start`` to ``end`` inclusive."""
    if points < 2 or end <= start:
        return [end]
    step = (end - start) / (points - 1)
    return [start + i * step for i in range(points)]


def window_counts(
    timestamps: Sequence[float], period: float, at: Sequence[float]
) -> list[int]:
    """For each instant ``t`` in ``at``: how many timestamps lie in ``(t - period, t]``.

    This is the budget's sliding-log rule: a call reserved at ``r`` still counts against
    a window of length ``period`` until ``r + period``. ``timestamps`` sorted ascending.
    """
    return [bisect_right(timestamps, t) - bisect_right(timestamps, t - period) for t in at]


def peak_window(
    timestamps: Sequence[float], period: float, since: float = -math.inf
) -> tuple[int, float | None]:
    """The largest count in any window ``(t - period, t]`` with ``t >= since``, and its ``t``.

    The maximum is always reached at some call's own timestamp, so checking windows that
    end on each timestamp is exact. ``timestamps`` sorted ascending.
    """
    best, best_at, lo = 0, None, 0
    for hi, t in enumerate(timestamps):
        if t < since:
            continue
        while timestamps[lo] <= t - period:
            lo += 1
        # Equal timestamps: the window ending at the last of them holds them all.
        if hi + 1 < len(timestamps) and timestamps[hi + 1] == t:
            continue
        count = hi - lo + 1
        if count > best:
            best, best_at = count, t
    return best, best_at
