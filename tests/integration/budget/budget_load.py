"""Load for the budget's concurrency tests: OS processes x threads, reserve -> GET -> report.

Lives outside the test module so that ``spawn``-ed processes can import it by name.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial

import httpx

from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.client.gate import CallReport
from courtflow.client.usage import parse_api_usage
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.lockstep import DeadlineReached, Lockstep
from courtflow.store.engine import make_engine


@dataclass(frozen=True)
class LoadSpec:
    db_url: str
    key: str
    rates: str
    margin: float
    sandbox_url: str
    threads: int
    reconcile_on_429: bool


def worker(spec: LoadSpec, lockstep: Lockstep) -> dict[str, int]:
    """One OS process: ``spec.threads`` callers sharing one Budget; returns its counts."""
    engine = make_engine(spec.db_url)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        """The budget made a caller wait: counted, so the test can ask why."""
        with lock:
            counts["waits"] += 1
        lockstep.sleep(seconds)  # a wait past the deadline ends the caller

    budget = Budget(
        engine,
        spec.key,
        parse_rates(spec.rates),
        safety_margin=spec.margin,
        max_sleep=120.0,
        sleep=sleep,
    )
    last_reconcile = [0.0]
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}

    def reconcile(client: httpx.Client) -> None:
        with lock:
            if time.time() - last_reconcile[0] < 1.0:
                return
            last_reconcile[0] = time.time()
        answer = client.get(f"{spec.sandbox_url}/api-usage/")
        if answer.status_code == 200:
            added = budget.reconcile(parse_api_usage(answer.json()))
            with lock:
                counts["reconciled"] += 1
                counts["external_rows"] += added

    def caller(client: httpx.Client) -> None:
        while not lockstep.over():
            try:
                ticket = budget.reserve("dockets/")
            except DeadlineReached:
                return
            started = time.perf_counter()
            try:
                answer = client.get(
                    f"{spec.sandbox_url}/dockets/", params={"order_by": "date_modified"}
                )
            except httpx.HTTPError:
                budget.report(ticket, CallReport(None, "network", 0.0))
                with lock:
                    counts["network"] += 1
                continue
            took = (time.perf_counter() - started) * 1000.0
            if answer.status_code == 429:
                budget.report(ticket, CallReport(429, "throttled", took))
                budget.throttled(float(answer.headers["Retry-After"]))
                if spec.reconcile_on_429:
                    reconcile(client)
            else:
                outcome = "ok" if answer.is_success else "http_error"
                budget.report(
                    ticket, CallReport(answer.status_code, outcome, took, len(answer.content))
                )
            with lock:
                counts[str(answer.status_code)] += 1

    # Warm up before the start: database connections, and one HTTP connection per caller
    # (api-usage/ costs no quota), so the first burst is not paced by connection set-up.
    clients = [httpx.Client(headers=headers, timeout=20.0) for _ in range(spec.threads)]
    for client in clients:
        client.get(f"{spec.sandbox_url}/api-usage/")
    budget.next_available()
    lockstep.run_threads([partial(caller, c) for c in clients])
    for client in clients:
        client.close()
    engine.dispose()
    return dict(counts)
