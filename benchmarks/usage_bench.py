"""The cost of placing usage made elsewhere cautiously: calls admitted vs ideal, and 429s.

    .venv/bin/python -m benchmarks.usage_bench [--seed 15]

Someone else used the token before a courtflow process starts; the process learns only
what ``api-usage/`` reports (per window: used, reset_at) and then calls as fast as its
ledger allows for a horizon. Simulated exactly on one clock (no network, no sleeping),
with the server's sliding-log rule (:func:`courtflow.sandbox.throttle.evaluate`) deciding
every call, side by side:

- ideal: a client that knows every external call's time (what the server knows);
- courtflow: :func:`courtflow.budget.external.place` (the oldest call exactly, the rest
  as late as the server allows), then the ledger's own rule (:mod:`courtflow.budget.waits`);
  once with that first view only, once as the budget runs: reconciling again when the
  ledger is full, at most every 30 s (``Budget._resync``);
- before: every missing call at the window's oldest call (the reconciliation of issue 15).

The ledger margin is 0 for both ledgers, so the figures isolate the placement.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from courtflow.budget.external import ServerWindow, place
from courtflow.budget.rates import Rate, parse_rates
from courtflow.budget.waits import next_room
from courtflow.sandbox.throttle import evaluate

EPOCH = 1_800_000_000.0


@dataclass(frozen=True)
class Scenario:
    name: str
    rates: str
    external: Callable[[random.Random], list[float]]  # call times before 0 (seconds)
    horizon: float


def _spread(n: int, over: float) -> Callable[[random.Random], list[float]]:
    return lambda rng: sorted(-over + i * over / n + rng.uniform(0, over / n) for i in range(n))


def _burst(n: int, ago: float) -> Callable[[random.Random], list[float]]:
    return lambda rng: sorted(-ago + rng.uniform(0, 1.0) for _ in range(n))


SCENARIOS = (
    Scenario("9 calls over 50 s, 10/min", "10/min", _spread(9, 50.0), 180.0),
    Scenario("9 calls in a burst 50 s ago, 10/min", "10/min", _burst(9, 50.0), 180.0),
    Scenario("9 calls in a burst 5 s ago, 10/min", "10/min", _burst(9, 5.0), 180.0),
    Scenario("40 calls over 50 min, 5/min,50/hour,125/day", "5/min,50/hour,125/day",
             _spread(40, 3000.0), 7200.0),
    Scenario("3,000 calls over 1 h, 5000/hour", "5000/hour", _spread(3000, 3600.0), 7200.0),
)  # fmt: skip


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(EPOCH + t, UTC)


def _report(
    log: Sequence[float], rates: Sequence[Rate], now: float = 0.0, ours: Sequence[float] = ()
) -> list[ServerWindow]:
    """api-usage/ at ``now`` as the server computes it, and what the ledger knows of ours."""
    windows = []
    for r in rates:
        inside = [t for t in log if t > now - r.period]
        needed = max(len(inside) - r.limit + 1, 1)
        reset = _dt(inside[min(needed, len(inside)) - 1] + r.period) if inside else None
        mine = [t for t in ours if t > now - r.period]
        oldest = _dt(min(mine)) if mine else None
        windows.append(ServerWindow(r.period, len(inside), r.limit, reset, len(mine), oldest))
    return windows


def _cautious(
    log: Sequence[float], rates: Sequence[Rate], now: float = 0.0, ours: Sequence[float] = ()
) -> list[float]:
    placed = place(_dt(now), _report(log, rates, now, ours))
    external = [p.at.timestamp() - EPOCH for p in placed for _ in range(p.calls)]
    return sorted([*external, *ours])


def _at_oldest(log: Sequence[float], rates: Sequence[Rate]) -> list[float]:
    rows: list[float] = []
    for w in sorted(_report(log, rates), key=lambda x: x.period):
        missing = w.used - sum(1 for t in rows if t > -w.period)
        if missing > 0 and w.reset_at is not None:
            rows += [w.reset_at.timestamp() - EPOCH - w.period + 0.001] * missing
    return sorted(rows)


def _run(
    server: list[float],
    ledger: list[float] | None,
    rates: Sequence[Rate],
    horizon: float,
    resync: float | None = None,
) -> tuple[int, int]:
    """Calls admitted and 429s in ``[0, horizon)``; ``ledger`` None: the ideal client.

    ``resync``: when the ledger is full, reconcile again (at most every ``resync`` s).
    """
    admitted = refused = 0
    t = last_sync = 0.0
    ours: list[float] = []
    while True:
        if ledger is None:
            verdict = evaluate(server, rates, t)
            if not verdict.admitted:
                assert verdict.wait is not None
                t += max(verdict.wait, 1e-6)
                continue
        else:
            ready = next_room(ledger, rates, t)
            if ready > t and resync is not None and t - last_sync >= resync:
                ledger[:] = _cautious(server, rates, t, ours)
                last_sync = t
                ready = next_room(ledger, rates, t)
            if ready > t:
                t = min(ready, last_sync + resync) + 1e-6 if resync else ready + 1e-6
                continue
        if t >= horizon:
            return admitted, refused
        verdict = evaluate(server, rates, t)
        if verdict.admitted:
            server.append(t)
            admitted += 1
        else:
            refused += 1
        if ledger is not None:
            ledger.append(t)
            ours.append(t)


RESYNC = 30.0  # courtflow.budget.budget.RESYNC_SECONDS


def _cell(admitted: int, ideal: int, throttled: int) -> str:
    return f"{admitted:>6} {admitted / ideal:>4.0%} {throttled:>4}x429"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(
        f"{'scenario (horizon)':<52} {'ideal':>6} {'courtflow':>17} "
        f"{'+ resync 30 s':>17} {'before: at oldest':>19}"
    )
    for s in SCENARIOS:
        rates = parse_rates(s.rates)
        log = s.external(rng)
        ideal, _ = _run(list(log), None, rates, s.horizon)
        ours, ours_429 = _run(list(log), _cautious(log, rates), rates, s.horizon)
        again, again_429 = _run(list(log), _cautious(log, rates), rates, s.horizon, RESYNC)
        old, old_429 = _run(list(log), _at_oldest(log, rates), rates, s.horizon)
        print(
            f"{s.name + f' ({s.horizon:g} s)':<52} {ideal:>6} "
            f"{_cell(ours, ideal, ours_429)} {_cell(again, ideal, again_429)} "
            f"{_cell(old, ideal, old_429)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
