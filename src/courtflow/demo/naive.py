"""The reference design's rate limiting, reimplemented faithfully to compare against.

Used by the budget benchmark (benchmarks/budget_bench.py) and by ``make demo``, which
runs it beside courtflow against the same sandbox; it is never used to load anything.

From /work/shared/reference/airflow-courtlistener-framework.md (the "Reference DAG"):

- ``courtlistener_api_pool``: an Airflow pool caps concurrency -> ``slots`` workers;
- ``enforce_rate_limit``: a sensor (reschedule mode, in the pool) run before each fetch,
  done when ``api_call_metrics.call_count`` for the current clock hour is below
  ``CALL_LIMIT_PER_HOUR``, else poked again after ``poke_interval``;
- ``fetch_and_process_data``: one GET, ``raise_for_status()``, wrapped in
  ``backoff.on_exception(backoff.expo, RequestException, max_tries=8)`` (full jitter);
- ``upsert_api_call_count``: after the fetch, ``call_count + 1`` for the current clock
  hour, the same ``INSERT … ON CONFLICT … DO UPDATE`` as the reference.

Scaled to the time-compressed test rates: the clock "hour" becomes the longest window
of the rate list (clock-aligned), its limit the hourly limit, and ``poke_interval``
shrinks by the same factor (300 s of 3600 s). The backoff waits stay the library's
(1, 2, 4, … s with full jitter): they answer failures, not the rate. Only the main rate
is known to this design: shorter windows of the list are not checked at all.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, text

from courtflow.budget.rates import Rate
from courtflow.observe.compare import DesignRun
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade

# The reference's own statements (PostgreSQL), on the same api_call_metrics table.
UPSERT_SQL = text(
    """
    INSERT INTO api_call_metrics (api_name, timestamp_hour, call_count)
    VALUES (:api_name, :hour, 1)
    ON CONFLICT (api_name, timestamp_hour) DO UPDATE
    SET call_count = api_call_metrics.call_count + 1
    """
)
SENSOR_SQL = text(
    """
    SELECT COALESCE(call_count, 0) FROM api_call_metrics
    WHERE api_name = :api_name AND timestamp_hour = :hour
    """
)


@dataclass(frozen=True)
class ReferenceConfig:
    window: float = 3600.0  # the clock "hour"
    limit: int = 5000  # CALL_LIMIT_PER_HOUR
    poke_interval: float = 300.0
    max_tries: int = 8
    api_name: str = "courtlistener"

    @classmethod
    def scaled(cls, window: float, limit: int, api_name: str) -> ReferenceConfig:
        return cls(window, limit, poke_interval=300.0 * window / 3600.0, api_name=api_name)


class ReferencePipeline:
    """One pool slot's loop: sensor -> fetch (with backoff) -> count, as the reference DAG."""

    def __init__(
        self,
        engine: Engine,
        config: ReferenceConfig,
        sleep: Callable[[float], None] = time.sleep,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine = engine
        self.config = config
        self.sleep = sleep
        self.stopped = stopped  # checked between attempts: the demo ends the run at a moment
        self.attempts = 0
        self.throttled = 0
        # (epoch seconds, HTTP status or None) of every attempt, for side-by-side reports.
        self.log: list[tuple[float, int | None]] = []

    def _hour(self) -> datetime:
        # datetime.now().replace(minute=0, second=0, microsecond=0), scaled: the worker's clock.
        now = time.time()
        return datetime.fromtimestamp(now - now % self.config.window, UTC)

    def sensor_poke(self) -> bool:
        with self.engine.begin() as conn:
            count = conn.execute(
                SENSOR_SQL, {"api_name": self.config.api_name, "hour": self._hour()}
            ).scalar()
        return (count or 0) < self.config.limit

    def fetch(self, client: httpx.Client, url: str) -> httpx.Response:
        for attempt in range(1, self.config.max_tries + 1):
            if attempt > 1 and self.stopped():
                raise httpx.TransportError("stopped before the retry")
            self.attempts += 1
            sent = time.time()
            try:
                response = client.get(url, params={"order_by": "date_modified"})
                self.log.append((sent, response.status_code))
                if response.status_code == 429:
                    self.throttled += 1
                response.raise_for_status()
                return response
            except httpx.HTTPError as exc:
                if not isinstance(exc, httpx.HTTPStatusError):
                    self.log.append((sent, None))
                if attempt == self.config.max_tries:
                    raise
                self.sleep(random.uniform(0.0, 2.0 ** (attempt - 1)))  # backoff.expo, full jitter
        raise AssertionError("unreachable")

    def count_call(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(UPSERT_SQL, {"api_name": self.config.api_name, "hour": self._hour()})

    def run_task(self, client: httpx.Client, url: str, deadline: float) -> bool:
        """One DAG run's tasks; False when the deadline came first."""
        while not self.sensor_poke():
            if time.time() + self.config.poke_interval >= deadline or self.stopped():
                return False
            self.sleep(self.config.poke_interval)
        if time.time() >= deadline or self.stopped():
            return False
        try:
            self.fetch(client, url)
        except httpx.HTTPError:
            return True  # the task fails; Airflow would retry it later
        self.count_call()
        return True


def run_until(
    api_url: str,
    token: str,
    rates: Sequence[Rate],
    db_url: str,
    stop: threading.Event,
    *,
    workers: int = 2,
    name: str = "naive reference design",
) -> DesignRun:
    """Run the reference design with ``workers`` pool slots until ``stop`` is set.

    Each slot loops over its DAG's tasks (sensor -> GET a page of dockets -> count) with
    its own counters in ``db_url`` (never courtflow's ledger). Returns every attempt and
    the server's answer, for the report's side-by-side comparison.
    """
    engine = make_engine(db_url)
    upgrade(engine)  # the reference's api_call_metrics table
    longest = max(rates, key=lambda r: r.period)
    config = ReferenceConfig.scaled(longest.period, longest.limit, "courtlistener")

    def nap(seconds: float) -> None:
        stop.wait(seconds)

    slots = [ReferencePipeline(engine, config, sleep=nap, stopped=stop.is_set)
             for _ in range(workers)]  # fmt: skip
    url = api_url.rstrip("/") + "/dockets/"

    def slot(pipeline: ReferencePipeline) -> None:
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(headers=headers, timeout=30.0) as client:
            while not stop.is_set():
                pipeline.run_task(client, url, deadline=time.time() + 3600.0)

    started = time.time()
    threads = [threading.Thread(target=slot, args=(p,), daemon=True) for p in slots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    attempts = tuple(sorted(a for p in slots for a in p.log))
    return DesignRun(name, started, time.time() - started, attempts)
