"""The sandbox throttle under concurrent clients: threads, and separate OS processes.

The server records every decision it takes (time, admitted) in lock order. Replaying
them against a brute-force sliding log must give the same answers: then the admitted
count is exactly what the rate list allows, and no window ever held more than its limit.

Each client goes as fast as it can until the long window (an hour) refuses it, however
long that takes: how often the short window binds depends on the host's speed, the
total admitted (the long window's limit) does not.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import httpx
import pytest

from courtflow.budget.rates import parse_rates
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, start_sandbox
from courtflow.sandbox.config import SandboxConfig

pytestmark = pytest.mark.timeout(90)


LONG = 3600.0  # the long window of every rate list here
MAX_REQUESTS = 2000  # per client: a bound, far above what reaching the long limit takes


def hammer(url: str) -> dict[int | str, int]:
    """One client as fast as it can go, until the long window refuses it (a 429 whose
    Retry-After is beyond any short window); returns its status counts."""
    statuses: Counter[int | str] = Counter()
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}
    with httpx.Client(headers=headers, timeout=60.0) as client:
        for _ in range(MAX_REQUESTS):
            answer = client.get(f"{url}/dockets/", params={"order_by": "id"})
            statuses[answer.status_code] += 1
            if answer.status_code == 429 and int(answer.headers["Retry-After"]) > LONG / 2:
                statuses["long"] += 1
                break
    return dict(statuses)


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
    rates = "5/1s,12/hour"
    results: list[dict[int | str, int]] = []
    with start_sandbox(small_config(rates)) as sandbox:
        threads = [
            threading.Thread(target=lambda: results.append(hammer(sandbox.url)))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        admitted = assert_server_followed_the_sliding_log(sandbox, rates)
        stats = sandbox.stats()
    totals: Counter[int | str] = Counter()
    for result in results:
        totals.update(result)
    assert len(results) == 6 and all(r.get("long") == 1 for r in results)  # each refused
    assert totals[200] == admitted == stats["admitted"] == 12  # the hour's limit, exactly
    assert totals[429] == stats["throttled"] >= 6


def test_separate_processes_sharing_a_token_never_get_more_than_the_rate_list() -> None:
    rates = "10/1s,25/hour"
    context = multiprocessing.get_context("spawn")
    with start_sandbox(small_config(rates)) as sandbox, context.Pool(3) as pool:
        results = pool.map(hammer, [sandbox.url] * 3)
        admitted = assert_server_followed_the_sliding_log(sandbox, rates)
    totals: Counter[int | str] = Counter()
    for result in results:
        totals.update(result)
    assert totals[200] == admitted == 25  # the hour's limit, exactly
    assert all(r.get("long") == 1 for r in results)  # every process got through, to the end
