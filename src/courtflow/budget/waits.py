"""The sliding-log rule: when may the next call go? Pure, no I/O, one clock.

The server refuses a call when, for any rate ``N/period``, it already holds ``N``
timestamps newer than ``now - period``. Room appears in a full window when enough of
its oldest calls expire: with ``c >= N`` calls inside, the ``(c-N+1)``-th oldest of
them, which is the ``N``-th newest call overall. So one timestamp per rate decides,
and the database only has to find the N-th newest row (one index probe per rate).

``margin`` widens every window (``period + margin``) to cover the way from our
reservation to the server: a call reserved at ``t`` is counted by us until
``t + period + margin``, later than the server counts it. (A call already reported
counts from ``max(t, reported - margin)``: it reached the server before its report;
see :func:`courtflow.budget.seqlog.counted_from`.)
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from courtflow.budget.rates import Rate


def room_at(
    blockers: Sequence[float | None], rates: Sequence[Rate], now: float, margin: float = 0.0
) -> float:
    """0.0 if a call may go at ``now``, else the earliest time every window has room.

    ``blockers[i]`` is the ``rates[i].limit``-th newest call's time (None if there are
    fewer calls). A limit of 0 never has room: ``math.inf``.
    """
    ready = 0.0
    for rate, blocker in zip(rates, blockers, strict=True):
        if rate.limit <= 0:
            return math.inf
        if blocker is None:
            continue
        expires = blocker + rate.period + margin  # the moment it leaves the widened window
        if expires > now:
            ready = max(ready, expires)
    return ready


def nth_newest(timestamps: Sequence[float], n: int) -> float | None:
    """The ``n``-th newest of ascending ``timestamps`` (1 = newest), None if too few."""
    return timestamps[-n] if 0 < n <= len(timestamps) else None


def next_room(
    timestamps: Sequence[float], rates: Sequence[Rate], now: float, margin: float = 0.0
) -> float:
    """:func:`room_at` over the ascending call times of (at least) the longest window."""
    return room_at([nth_newest(timestamps, r.limit) for r in rates], rates, now, margin)


def used_in_window(timestamps: Sequence[float], rate: Rate, now: float, margin: float = 0.0) -> int:
    """How many calls count against ``rate`` at ``now`` (newer than ``now - period - margin``)."""
    start = now - rate.period - margin
    return sum(1 for t in timestamps if start < t <= now)


def max_admissible(rates: Sequence[Rate], duration: float, step: float = 0.001) -> int:
    """Calls a perfect caller gets through in ``duration`` seconds from an empty log.

    A greedy simulation on an integer grid of ``step`` seconds that counts each window
    directly (independently of :func:`room_at`), for tests and benchmarks to judge
    efficiency against. Meant for small limits: it stores every admitted call.
    """
    periods = [round(r.period / step) for r in rates]
    times: list[int] = []
    for tick in range(math.ceil(duration / step - 1e-9)):  # calls at [0, duration)
        # A call at s still counts at tick t while s > t - period (the server's rule).
        while all(
            len(times) - bisect_right(times, tick - p) < r.limit
            for r, p in zip(rates, periods, strict=True)
        ):
            times.append(tick)
    return len(times)


def slot_at(
    slots: Sequence[float | None],
    rates: Sequence[Rate],
    ahead: int,
    now: float,
    margin: float = 0.0,
) -> float:
    """When the ``ahead + 1``-th slot frees up: the turn of a waiter with ``ahead`` before it.

    ``slots[i]`` is the time of ``rates[i]``'s ``(limit - ahead % limit)``-th newest call
    (None: fewer calls). Slot ``j`` of a full window frees when its ``j``-th oldest call
    leaves; slot ``j + N`` frees one window after slot ``j`` is taken again. With
    ``ahead == 0`` this is :func:`room_at` (or ``now``). An estimate: it assumes those
    ahead take their slots on time, and they are served first whatever this says.
    """
    wake = now
    for rate, slot in zip(rates, slots, strict=True):
        if rate.limit <= 0:
            return math.inf
        window = rate.period + margin
        frees = now if slot is None else max(now, slot + window)
        wake = max(wake, frees + window * (ahead // rate.limit))
    return wake
