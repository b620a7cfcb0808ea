"""The sandbox throttle under concurrent clients: threads, and separate OS processes.

The server records every decision it takes (time, admitted) in lock order. Replaying
them against a brute-force sliding log must give the same answers: then the admitted
count is exactly what the rate list allows, and no window ever held more than its limit.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter

import httpx
import pytest

from courtflow.budget.rates import parse_rates
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, start_sandbox
from courtflow.sandbox.config import SandboxConfig

pytestmark = pytest.mark.timeout(90)


def hammer(url: str, seconds: float) -> dict[int, int]:
    """One client as fast as it can go; returns its status counts."""
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}
    with httpx.Client(headers=headers, timeout=10.0) as client:
        while time.monotonic() < deadline:
            statuses[client.get(f"{url}/dockets/", params={"order_by": "id"}).status_code] += 1
    return dict(statuses)


def _hammer_args(args: tuple[str, float]) -> dict[int, int]:
    return hammer(*args)


def assert_server_followed_the_sliding_log(sandbox: RunningSandbox, rates: str) -> int:
    decisions = sandbox.state.decisions(DEMO_TOKEN)
    parsed = parse_rates(rates)
    log: list[float] = []
    for now, admitted in decisions:
        allowed = all(sum(1 for t in log if t > now - r.period) < r.limit for r in parsed)
        assert admitted is allowed, f"decision at {now} differs from the sliding log"
        if admitted:
            log.append(now)
    assert sandbox.state.admissions(DEMO_TOKEN) == log
    for rate in parsed:
        for end in log:
            assert sum(1 for t in log if end - rate.period < t <= end) <= rate.limit
    return len(log)


def small_config(rates: str) -> SandboxConfig:
    return SandboxConfig(rates=tuple(rates.split(",")), volumes={"dockets": 200})


def test_threads_sharing_a_token_never_get_more_than_the_rate_list() -> None:
    rates = "5/1s,12/3s"
    results: list[dict[int, int]] = []
    with start_sandbox(small_config(rates)) as sandbox:
        threads = [
            threading.Thread(target=lambda: results.append(hammer(sandbox.url, 3.5)))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        admitted = assert_server_followed_the_sliding_log(sandbox, rates)
        stats = sandbox.stats()
    totals: Counter[int] = Counter()
    for result in results:
        totals.update(result)
    assert set(totals) == {200, 429}
    assert totals[200] == admitted == stats["admitted"]
    assert totals[429] == stats["throttled"]
    # 12 per 3 s binds after the first burst: at most 12 + 12 + 5 in 3.5 s of demand.
    assert 12 <= admitted <= 29


def test_separate_processes_sharing_a_token_never_get_more_than_the_rate_list() -> None:
    rates = "10/1s,25/4s"
    context = multiprocessing.get_context("spawn")
    with start_sandbox(small_config(rates)) as sandbox, context.Pool(3) as pool:
        results = pool.map(_hammer_args, [(sandbox.url, 5.0)] * 3)
        admitted = assert_server_followed_the_sliding_log(sandbox, rates)
    totals: Counter[int] = Counter()
    for result in results:
        totals.update(result)
    assert totals[200] == admitted
    assert totals[429] > 0
    assert all(r.get(200, 0) + r.get(429, 0) > 0 for r in results)  # every process got through
