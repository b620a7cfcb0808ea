"""Placing usage made elsewhere: never released before the server releases it, bounded."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from courtflow.budget.external import Placement, ServerWindow, place

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RATES = ((60.0, 10), (3600.0, 100), (86400.0, 300))  # (period, limit)


def at(seconds_ago: float) -> datetime:
    return NOW - timedelta(seconds=seconds_ago)


def report(external: list[float], ours: list[float]) -> list[ServerWindow]:
    """What api-usage/ says (seconds-ago lists), as the server computes used and reset_at."""
    windows = []
    for period, limit in RATES:
        inside = sorted(t for t in external + ours if t < period)  # newest first by age
        used = len(inside)
        reset = None
        if used and used <= limit:
            reset = at(inside[-1] - period)  # the oldest leaves
        mine = [t for t in ours if t < period]
        windows.append(
            ServerWindow(period, used, limit, reset, len(mine), at(max(mine)) if mine else None)
        )
    return windows


def assert_never_released_early(placed: list[Placement], external: list[float]) -> None:
    """For every moment, the ledger holds at least as many external calls at or after it
    as the server can: each placed call leaves no earlier than a real one would."""
    for x in sorted(set(external)):
        moment = at(x)
        held = sum(p.calls for p in placed if p.at >= moment)
        real = sum(1 for t in external if t <= x)
        assert held >= real, (x, held, real)


def test_the_issue_case_nine_calls_over_fifty_seconds() -> None:
    external = [50.0 - i * 6.0 for i in range(9)]  # 50 s ago .. 2 s ago
    placed = place(NOW, report(external, []))
    assert placed == [Placement(at(50.0), 1), Placement(NOW, 8)]
    assert_never_released_early(placed, external)


def test_our_own_calls_are_not_counted_twice() -> None:
    ours = [5.0, 15.0]
    external = [30.0, 40.0]
    placed = place(NOW, report(external, ours))
    assert sum(p.calls for p in placed) == 2
    assert_never_released_early(placed, external)


def test_when_the_oldest_call_may_be_ours_it_is_not_placed_exactly() -> None:
    ours = [55.0]
    external = [10.0]
    placed = place(NOW, report(external, ours))
    assert placed == [Placement(NOW, 1)]


def test_longer_windows_place_the_rest_just_outside_the_shorter_one() -> None:
    external = [30.0, 600.0, 1200.0, 7200.0]
    placed = place(NOW, report(external, []))
    assert placed == [
        Placement(at(30.0), 1),
        Placement(at(1200.0), 1),
        Placement(at(60.0), 1),
        Placement(at(7200.0), 1),
    ]
    assert_never_released_early(placed, external)


def test_huge_counts_cost_a_few_rows() -> None:
    windows = [ServerWindow(3600.0, 300_000, 5000, NOW, 0, None)]  # rates cut: used > limit
    assert place(NOW, windows) == [Placement(NOW, 300_000)]


def test_random_histories_are_never_released_early() -> None:
    rng = random.Random(15)
    for _ in range(500):
        external = sorted(rng.uniform(0.0, 86_000.0) for _ in range(rng.randint(0, 40)))
        ours = sorted(rng.uniform(0.0, 86_000.0) for _ in range(rng.randint(0, 10)))
        external += [rng.uniform(0.0, 59.0) for _ in range(rng.randint(0, 5))]
        placed = place(NOW, report(external, ours))
        assert len(placed) <= 2 * len(RATES)
        assert_never_released_early(placed, external)
