"""The call budget side by side with the reference design, and its reservation speed.

    .venv/bin/python -m benchmarks.budget_bench [--seconds 24] [--latency-seconds 6] [--only a|b]

(a) Against the sandbox throttling ("20/2s", "150/20s"), the same workers (3 processes x
    4 threads) for the same time: courtflow's Budget (reserve -> GET -> report) and the
    reference design (pool + sensor on an hourly counter + counter bumped after the call
    + backoff, courtflow/demo/naive.py, the "hour" scaled to the 20 s window).
    Calls admitted against the most a perfect caller could get (greedy simulation of the
    rates), and 429s, both counted by the server over the run.
(b) Reservation latency and throughput on PostgreSQL: 16 contenders (4 processes x 4
    threads, and 16 single-threaded processes as Airflow runs tasks) reserving in a
    loop, on a ledger already holding 5,000 rows in the window, with a rate that never
    fills (1,000,000/hour); asynchronous commit (the default) and synchronous commit,
    paced to 1,000/s in all, and one contender alone; the paced and single rows also
    through ``courtflow_reserve()`` (migration 0002, before priority classes), side by
    side. One more row: 16 contenders on a budget that fills (1000/s), each waiting in
    the queue (``Budget.reserve``); every database attempt is timed, waits are not.
    The target (p99 under 10 ms at 1,000 reservations/s in all, 16 contenders) is
    checked on the paced row.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import text

from benchmarks.budget_support import percentile, scratch_pg, table
from courtflow.budget import ledger
from courtflow.budget.admission import Queueing
from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.budget.tables import api_call_ledger
from courtflow.budget.waits import max_admissible
from courtflow.client.gate import CallReport
from courtflow.demo.naive import ReferenceConfig, ReferencePipeline
from courtflow.sandbox import DEMO_TOKEN, SandboxConfig, start_sandbox
from courtflow.sandbox.lockstep import DeadlineReached, Lockstep, run_in_lockstep
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade

RATES = "20/2s,150/20s"
MARGIN = 0.08
PROCESSES, THREADS = 3, 4


@dataclass(frozen=True)
class Job:
    kind: str  # "courtflow" | "reference" | "reserve"
    db_url: str
    key: str
    threads: int
    sandbox_url: str = ""
    rates: str = RATES
    synchronous: bool = False
    pace: float = 0.0  # reservations per second per caller; 0: as fast as it can
    legacy: bool = False  # reserve with courtflow_reserve() (0002, before classes)
    queued: bool = False  # Budget.reserve() on a budget that fills: every attempt timed


def _courtflow_caller(budget: Budget, client: httpx.Client, url: str, run: Lockstep) -> None:
    while not run.over():
        try:
            ticket = budget.reserve("dockets/")
        except DeadlineReached:
            return
        started = time.perf_counter()
        answer = client.get(f"{url}/dockets/", params={"order_by": "date_modified"})
        took = (time.perf_counter() - started) * 1000.0
        if answer.status_code == 429:
            budget.report(ticket, CallReport(429, "throttled", took))
            budget.throttled(float(answer.headers["Retry-After"]))
        else:
            budget.report(ticket, CallReport(answer.status_code, "ok", took, len(answer.content)))


def _reference_caller(
    pipeline: ReferencePipeline, client: httpx.Client, url: str, run: Lockstep
) -> None:
    try:
        while not run.over() and pipeline.run_task(client, f"{url}/dockets/", run.deadline):
            pass
    except DeadlineReached:
        return


_LEGACY = (
    "SELECT o_call_id FROM courtflow_reserve(%(key)s::text, %(limits)s::integer[],"
    " %(windows)s::double precision[], %(margin)s::double precision, %(endpoint)s::text,"
    " NULL::integer, NULL::text, NULL::text, NULL::text, NULL::text, false, false)"
)


def _legacy_reserve(budget: Budget) -> None:
    """One reservation through the function before classes (migration 0002), for comparison."""
    assert budget._reserving is not None
    limits = "{" + ",".join(str(r.limit) for r in budget.configured_rates) + "}"
    windows = "{" + ",".join(repr(r.period + budget.margin) for r in budget.configured_rates) + "}"
    params = {"key": budget.key, "limits": limits, "windows": windows, "margin": budget.margin,
              "endpoint": "bench"}  # fmt: skip
    with budget._reserving.connect() as conn:
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute(_LEGACY, params)
            cursor.fetchone()


class _TimedBudget(Budget):
    """Times every database attempt of :meth:`Budget.reserve` (not the waits between)."""

    def __init__(self, *args: Any, out: list[float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts = out

    def _attempt(self, endpoint: str | None, q: Queueing) -> ledger.Reservation:
        started = time.perf_counter()
        try:
            return super()._attempt(endpoint, q)
        finally:
            self.attempts.append(time.perf_counter() - started)


def _queued_caller(
    budget: _TimedBudget, run: Lockstep, out: list[float], lock: threading.Lock
) -> None:
    while not run.over():
        try:
            budget.reserve("bench")
        except DeadlineReached:
            break
    with lock:
        out.extend(budget.attempts)


def _reserve_caller(
    budget: Budget, run: Lockstep, out: list[float], lock: threading.Lock, pace: float,
    legacy: bool = False,
) -> None:  # fmt: skip
    mine: list[float] = []
    # A random phase per caller: released together, paced callers would otherwise
    # arrive in bursts of 16 at the same instants for the whole run.
    due = time.perf_counter() + (random.uniform(0.0, 1.0 / pace) if pace else 0.0)
    while not run.over():
        if pace:  # open loop: the next reservation is due at a fixed schedule
            due += 1.0 / pace
            time.sleep(max(0.0, due - time.perf_counter()))
        started = time.perf_counter()
        if legacy:
            _legacy_reserve(budget)
        else:
            budget.try_reserve("bench")
        mine.append(time.perf_counter() - started)
    with lock:
        out.extend(mine)


def worker(job: Job, run: Lockstep) -> list[float]:
    """One OS process of ``job.threads`` callers; returns its latencies (reserve jobs)."""
    engine = make_engine(job.db_url)
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}
    clients = [httpx.Client(headers=headers, timeout=30.0) for _ in range(job.threads)]
    sleep = run.sleep  # a wait past the deadline ends the caller
    latencies: list[float] = []
    lock = threading.Lock()
    targets: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
    for client in clients:
        if job.sandbox_url:
            client.get(f"{job.sandbox_url}/api-usage/")  # a warm connection, free of quota
        if job.kind == "courtflow":
            budget = Budget(
                engine,
                job.key,
                parse_rates(job.rates),
                safety_margin=MARGIN,
                max_sleep=120.0,
                sleep=sleep,
            )
            targets.append((_courtflow_caller, (budget, client, job.sandbox_url, run)))
        elif job.kind == "reference":
            longest = max(parse_rates(job.rates), key=lambda r: r.period)
            config = ReferenceConfig.scaled(longest.period, longest.limit, job.key)
            pipeline = ReferencePipeline(engine, config, sleep=sleep)
            targets.append((_reference_caller, (pipeline, client, job.sandbox_url, run)))
        elif job.queued:
            timed = _TimedBudget(
                engine, job.key, parse_rates(job.rates), safety_margin=0.0, max_sleep=60.0,
                sleep=sleep, out=[],
            )  # fmt: skip
            timed.next_available()
            targets.append((_queued_caller, (timed, run, latencies, lock)))
        else:
            budget = Budget(
                engine,
                job.key,
                parse_rates(job.rates),
                safety_margin=1.0,
                synchronous=job.synchronous,
            )
            budget.next_available()  # warm the connection pool
            args = (budget, run, latencies, lock, job.pace, job.legacy)
            targets.append((_reserve_caller, args))
    run.run_threads([partial(fn, *args) for fn, args in targets])
    for client in clients:
        client.close()
    engine.dispose()
    return latencies


def run_processes(job: Job, processes: int, seconds: float) -> tuple[float, list[float]]:
    """The start time and every caller's latencies."""
    start, results = run_in_lockstep(worker, job, processes, seconds)
    return start, [x for latencies in results for x in latencies]


def efficiency(db_url: str, seconds: float) -> list[list[object]]:
    rows: list[list[object]] = []
    best = max_admissible(parse_rates(RATES), seconds)
    for kind, label in (
        ("courtflow", "courtflow Budget (ledger, reserve before each call)"),
        ("reference", "reference design (pool + sensor + hourly counter + backoff)"),
    ):
        config = SandboxConfig(rates=tuple(RATES.split(",")), volumes={"dockets": 200})
        with start_sandbox(config) as sandbox:
            job = Job(kind, db_url, f"bench:{kind}", THREADS, sandbox.url)
            start, _ = run_processes(job, PROCESSES, seconds)
            end = start + seconds
            decisions = [(t, ok) for t, ok in sandbox.state.decisions(DEMO_TOKEN) if t >= start]
        admitted = sum(1 for t, ok in decisions if ok and t < end)
        refused = sum(1 for t, ok in decisions if not ok)
        late = sum(1 for t, ok in decisions if ok and t >= end)
        rows.append(
            [
                label,
                f"{PROCESSES}x{THREADS}",
                f"{seconds:g}",
                admitted,
                best,
                f"{100.0 * admitted / best:.1f}%",
                refused,
                late,
            ]
        )
    return rows


def prefill(db_url: str, key: str, rows: int = 5000) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        now = ledger.db_now(conn)
        conn.execute(
            api_call_ledger.insert(),
            [
                {
                    "budget_key": key,
                    "seq": rows - i,
                    "outcome": "ok",
                    "reserved_at": now - timedelta(seconds=0.5 * i),
                }
                for i in range(rows)
            ],
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE api_call_ledger"))


TARGET_P99_MS, TARGET_PER_SECOND = 10.0, 1000.0


@dataclass(frozen=True)
class Row:
    label: str
    processes: int
    threads: int
    synchronous: bool = False
    pace: float = 0.0
    legacy: bool = False
    queued: bool = False
    rates: str = "1000000/hour"
    judged: bool = False  # the target: 16 contenders, 1,000 reservations/s in all


ROWS = (
    Row("16 contenders (4x4), as fast as they can, async commit (default)", 4, 4),
    Row("16 contenders (16x1), as fast as they can, async commit (default)", 16, 1),
    Row("16 contenders (4x4), as fast as they can, synchronous commit", 4, 4, synchronous=True),
    Row("16 contenders (4x4), paced to 1000/s in all", 4, 4, pace=62.5, judged=True),
    Row("  same, courtflow_reserve() before classes (0002)", 4, 4, pace=62.5, legacy=True),
    Row(
        "16 contenders (4x4) on a full budget (1000/s), queued, each attempt",
        4,
        4,
        queued=True,
        rates="1000/1s",
    ),
    Row("1 contender, as fast as it can", 1, 1),
    Row("  same, courtflow_reserve() before classes (0002)", 1, 1, legacy=True),
)


def admitted_rows(db_url: str, key: str) -> int:
    from sqlalchemy import func, select

    L = api_call_ledger
    with make_engine(db_url).connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(L.c.budget_key == key, L.c.endpoint == "bench")
            ).scalar_one()
        )


def reservations(db_url: str, seconds: float) -> tuple[list[list[object]], list[str]]:
    """The table rows, and the rows that miss the target (empty: the target is met)."""
    rows: list[list[object]] = []
    missed: list[str] = []
    for i, row in enumerate(ROWS):
        key = f"reserve:{i}"
        prefill(db_url, key)
        job = Job(
            "reserve", db_url, key, row.threads, rates=row.rates, synchronous=row.synchronous,
            pace=row.pace, legacy=row.legacy, queued=row.queued,
        )  # fmt: skip
        _, lat = run_processes(job, row.processes, seconds)
        per_second, p99_ms = len(lat) / seconds, percentile(lat, 0.99) * 1000
        rows.append(
            [
                row.label,
                len(lat),
                f"{per_second:.0f}",
                f"{admitted_rows(db_url, key) / seconds:.0f}",
                f"{percentile(lat, 0.5) * 1000:.2f}",
                f"{p99_ms:.2f}",
            ]
        )
        if row.judged and not (p99_ms < TARGET_P99_MS and per_second >= 0.95 * TARGET_PER_SECOND):
            missed.append(row.label)
    return rows, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=24.0)
    parser.add_argument("--latency-seconds", type=float, default=6.0)
    parser.add_argument("--only", choices=("a", "b"), help="run one part")
    args = parser.parse_args()
    with scratch_pg("cfbench") as url:
        upgrade(make_engine(url))
        eff = efficiency(url, args.seconds) if args.only != "b" else []
        lat, missed = reservations(url, args.latency_seconds) if args.only != "a" else ([], [])
    if eff:
        print(f"\n(a) sandbox throttling {RATES}; budget margin {MARGIN}s")
        headers = ["design", "workers", "seconds", "admitted", "best possible", "efficiency"]
        print(table([*headers, "429s", "admitted after the end"], eff))
    if lat:
        print("\n(b) reservations on PostgreSQL, 5,000 rows in the window, rate 1000000/hour")
        headers = ["contenders", "attempts", "per second", "admitted/s", "p50 ms", "p99 ms"]
        print(table(headers, lat))
        target = f"p99 < {TARGET_P99_MS:g} ms at {TARGET_PER_SECOND:,.0f}/s in all, 16 contenders"
        print(f"target ({target}): " + (f"missed by {missed}" if missed else "met"))


if __name__ == "__main__":
    main()
