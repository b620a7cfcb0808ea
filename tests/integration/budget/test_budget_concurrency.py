"""Many processes x threads on one budget against the sandbox's real sliding-log throttle.

Each caller loops "reserve -> GET dockets/ -> report" for a bounded time. The budget is
configured with the sandbox's own (time-compressed) rate list and a small safety margin:
the server must never answer 429, every call is in the ledger exactly once, and the
budget made callers wait only when its ledger held a full window: none of it depends on
how fast the host lets the callers go. How close they come to a perfect caller in the
same time (a greedy simulation of the rates) depends on that speed: it is measured side
by side with the reference design in ``benchmarks/budget_bench.py``.
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from courtflow.budget import seqlog
from courtflow.budget.rates import parse_rates
from courtflow.budget.tables import api_call_ledger
from courtflow.budget.waits import max_admissible
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.sandbox.lockstep import run_in_lockstep
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade

sys.path.insert(0, str(Path(__file__).parent))
from budget_load import LoadSpec, worker

from bounds import bound

RATES = "20/2s,150/20s"
MARGIN = 0.08
pytestmark = pytest.mark.timeout(180)


def run_load(
    sandbox: RunningSandbox,
    db_url: str,
    *,
    seconds: float,
    rates: str = RATES,
    processes: int = 3,
    threads: int = 4,
    reconcile_on_429: bool = False,
) -> tuple[str, float, dict[str, int]]:
    """Run the callers for ``seconds``; returns the budget key, the start time and counts."""
    key = f"load:{uuid.uuid4().hex[:10]}"
    spec = LoadSpec(db_url, key, rates, MARGIN, sandbox.url, threads, reconcile_on_429)
    start, results = run_in_lockstep(worker, spec, processes, seconds, ready_timeout=bound(90))
    totals: Counter[str] = Counter()
    for counts in results:
        totals.update(counts)
    return key, start, dict(totals)


def ledger_rows(db_url: str, key: str) -> int:
    with make_engine(db_url).begin() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(api_call_ledger)
                .where(api_call_ledger.c.budget_key == key, api_call_ledger.c.outcome != "external")
            ).scalar_one()
        )


def fullest_windows(db_url: str, key: str, rates: str, margin: float) -> list[int]:
    """Per rate, the most calls the ledger ever held in one of its windows (the window
    widened by the margin, each call counted from when it may have reached the server,
    as the budget counts them): the limit where the budget had a reason to refuse."""
    L = api_call_ledger
    with make_engine(db_url).begin() as conn:
        found = conn.execute(
            select(L.c.reserved_at, L.c.reported_at)
            .where(L.c.budget_key == key, L.c.outcome != "external")
        ).all()
    calls = sorted(
        (reserved.timestamp(), seqlog.counted_from(reserved, reported, margin))
        for reserved, reported in found
    )
    fullest = []
    for rate in parse_rates(rates):
        span = rate.period + margin
        fullest.append(max(
            (sum(1 for r, c in calls if r <= t and c is not None and c > t - span)
             for t, _ in calls),
            default=0,
        ))  # fmt: skip
    return fullest


def sandbox_for(rates: str) -> RunningSandbox:
    return start_sandbox(
        SandboxConfig(
            rates=tuple(rates.split(",")), volumes={"dockets": 200}, api_usage_rates=("100/min",)
        )
    )


def check_full_use_without_429(db_url: str, seconds: float, processes: int = 3) -> None:
    with sandbox_for(RATES) as sandbox:
        key, start, counts = run_load(sandbox, db_url, seconds=seconds, processes=processes)
        admitted = [t for t in sandbox.state.admissions(DEMO_TOKEN) if t >= start]
        stats: dict[str, Any] = sandbox.stats()
    best = max_admissible(parse_rates(RATES), seconds)
    fullest = fullest_windows(db_url, key, RATES, MARGIN)
    print(f"admitted {len(admitted)} of {best} possible in {seconds}s; counts {counts}; "
          f"fullest windows {fullest}")  # fmt: skip
    assert stats["throttled"] == 0 and counts.get("429", 0) == 0
    assert ledger_rows(db_url, key) == counts.get("200", 0) == len(admitted) <= best
    # Waiting only for a reason: a caller was held only if some window was full.
    limits = [r.limit for r in parse_rates(RATES)]
    assert counts.get("waits", 0) == 0 or any(
        n >= limit for n, limit in zip(fullest, limits, strict=True)
    ), f"callers waited {counts['waits']} times, yet no window ever filled: {fullest}"


def test_processes_and_threads_on_postgresql_use_the_quota_without_a_429(pg_url: str) -> None:
    upgrade(make_engine(pg_url))
    check_full_use_without_429(pg_url, seconds=12.0)


@pytest.mark.slow
def test_sixteen_callers_for_45_seconds_cross_the_long_window_without_a_429(pg_url: str) -> None:
    upgrade(make_engine(pg_url))
    check_full_use_without_429(pg_url, seconds=45.0, processes=4)


def test_processes_and_threads_on_sqlite_use_the_quota_without_a_429(sqlite_url: str) -> None:
    upgrade(make_engine(sqlite_url))
    check_full_use_without_429(sqlite_url, seconds=8.0)


def test_a_tighter_server_is_learnt_from_429s_and_api_usage(pg_url: str) -> None:
    """The sandbox allows (15/2s, 100/20s) while the budget is configured (20/2s, 150/20s)."""
    upgrade(make_engine(pg_url))
    server_rates = "15/2s,100/20s"
    seconds = 12.0
    with sandbox_for(server_rates) as sandbox:
        key, start, counts = run_load(sandbox, pg_url, seconds=seconds, reconcile_on_429=True)
        admitted = [t for t in sandbox.state.admissions(DEMO_TOKEN) if t >= start]
        throttled = sandbox.stats()["throttled"]
    best = max_admissible(parse_rates(server_rates), seconds)
    fullest = fullest_windows(pg_url, key, server_rates, MARGIN)
    print(f"admitted {len(admitted)} of {best}; 429s {throttled}; counts {counts}; "
          f"fullest windows {fullest}")  # fmt: skip
    assert counts.get("reconciled", 0) >= 1
    assert 1 <= throttled <= 12  # at most the calls in flight when the first 429 came back
    assert ledger_rows(pg_url, key) == len(admitted) + throttled
    assert len(admitted) <= best
    # The server's tighter windows bound the budget once learnt; it filled one of them.
    limits = [r.limit for r in parse_rates(server_rates)]
    assert any(n >= limit for n, limit in zip(fullest, limits, strict=True)), fullest
