"""Can a maintained limiter be the core of courtflow's budget? pyrate-limiter 4.5.1 on PostgreSQL.

    .venv/bin/python -m benchmarks.eval_limiters [--seconds 5] [--sandbox-seconds 12]

``PostgresBucket`` with a list of rates, each contender with its own ``Limiter`` and
bucket on one shared table (as separate workers would have), measured for:

1. spurious refusals: 16 contenders, a rate that never fills (1,000,000/hour); every
   refusal is ``LOCK TABLE … NOWAIT`` losing to another contender. Non-blocking and
   blocking acquires (the latter sleep ``buffer_ms`` and retry on such a refusal);
2. the concurrency test: 12 contenders, acquire -> GET dockets/ on the sandbox, which
   throttles ("20/2s", "150/20s") with the same rates in the bucket: 429s, calls
   admitted vs the most the rates allow, and the most rows any window of the bucket's
   own table ever held (over-admission);
3. time zones: two sessions, ``TimeZone=UTC`` and ``America/Los_Angeles``, on one
   ``5/min`` bucket (the column is ``TIMESTAMP`` without time zone).

``limits`` 5.x is not run: it shares state only through Redis, Memcached or MongoDB
(``storage_from_string``), never through the target database, so it cannot be the ledger.
The PostgreSQL connection pool ``PostgresBucket`` expects (``psycopg_pool``) is not
installed; a minimal stand-in with the same ``connection()`` contract is used.
"""

from __future__ import annotations

import argparse
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
from pyrate_limiter import Duration, Limiter, PostgresBucket
from pyrate_limiter import Rate as PyRate

from benchmarks.budget_support import libpq_url, max_in_window, percentile, scratch_pg, table
from courtflow.budget.rates import parse_rates
from courtflow.budget.waits import max_admissible
from courtflow.sandbox import DEMO_TOKEN, SandboxConfig, start_sandbox


class MiniPool:
    """The part of ``psycopg_pool.ConnectionPool`` that PostgresBucket and PostgresClock use.

    ``connection()`` lends a connection and commits on a clean exit (rolls back on error),
    as psycopg_pool does.
    """

    def __init__(self, conninfo: str, size: int = 2, timezone: str = "UTC") -> None:
        self._free: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._all = [
            psycopg.connect(conninfo, options=f"-c TimeZone={timezone}") for _ in range(size)
        ]
        for conn in self._all:
            self._free.put(conn)
        self.closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._free.get()
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            self._free.put(conn)

    def close(self) -> None:
        self.closed = True
        for conn in self._all:
            conn.close()


def _limiter(conninfo: str, table_name: str, rates: list[PyRate], tz: str = "UTC") -> Limiter:
    return Limiter(PostgresBucket(MiniPool(conninfo, 2, tz), table_name, rates))  # type: ignore[arg-type]


def spurious_refusals(
    conninfo: str, seconds: float, blocking: bool, contenders: int = 16
) -> dict[str, Any]:
    """Every refusal is spurious: the rate never fills."""
    rates = [PyRate(1_000_000, Duration.HOUR)]
    limiters = [_limiter(conninfo, f"spurious_{int(blocking)}", rates) for _ in range(contenders)]
    admitted, refused, lat = [0], [0], []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(limiter: Limiter) -> None:
        mine: list[float] = []
        ok = no = 0
        while time.monotonic() < deadline:
            t = time.perf_counter()
            got = limiter.try_acquire("call", blocking=blocking)
            mine.append(time.perf_counter() - t)
            ok, no = (ok + 1, no) if got else (ok, no + 1)
        with lock:
            admitted[0] += ok
            refused[0] += no
            lat.extend(mine)

    threads = [threading.Thread(target=run, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for lim in limiters:
        lim.close() if hasattr(lim, "close") else None
    attempts = admitted[0] + refused[0]
    return {
        "admitted": admitted[0],
        "refused": refused[0],
        "refused_pct": 100.0 * refused[0] / max(1, attempts),
        "per_s": admitted[0] / seconds,
        "p50_ms": percentile(lat, 0.5) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
    }


def sandbox_run(
    conninfo: str, seconds: float, zones: tuple[str, ...] = ("UTC",), contenders: int = 12
) -> dict[str, Any]:
    """Acquire -> GET on the sandbox with the sandbox's own rates in the bucket.

    Contender ``i`` runs its database session in ``zones[i % len(zones)]``.
    """
    rates = [PyRate(20, 2 * Duration.SECOND), PyRate(150, 20 * Duration.SECOND)]
    config = SandboxConfig(rates=("20/2s", "150/20s"), volumes={"dockets": 200})
    name = f"sandbox_{len(zones)}"
    limiters = [_limiter(conninfo, name, rates, zones[i % len(zones)]) for i in range(contenders)]
    headers = {"Authorization": f"Token {DEMO_TOKEN}"}
    with start_sandbox(config) as sandbox:
        clients = [httpx.Client(headers=headers, timeout=20.0) for _ in limiters]
        for client in clients:
            client.get(f"{sandbox.url}/api-usage/")  # warm connections, free of quota
        start = time.time()
        deadline = start + seconds

        def run(limiter: Limiter, client: httpx.Client) -> None:
            while time.time() < deadline:
                if limiter.try_acquire(
                    "call", blocking=True, timeout=max(0.0, deadline - time.time())
                ):
                    if time.time() >= deadline:
                        return
                    client.get(f"{sandbox.url}/dockets/", params={"order_by": "date_modified"})

        threads = [
            threading.Thread(target=run, args=p) for p in zip(limiters, clients, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for client in clients:
            client.close()
        admitted = [t for t in sandbox.state.admissions(DEMO_TOKEN) if t >= start]
        throttled = sandbox.stats()["throttled"]
    with psycopg.connect(conninfo) as conn:
        stamps = [
            row[0]
            for row in conn.execute(
                "SELECT extract(epoch FROM item_timestamp AT TIME ZONE 'UTC') "
                f'FROM "ratelimit___{name}"'
            )
        ]
    return {
        "admitted": len(admitted),
        "best": max_admissible(parse_rates("20/2s,150/20s"), seconds),
        "throttled": throttled,
        "max_2s_bucket": max_in_window([float(s) for s in stamps], 2.0),
        "max_20s_bucket": max_in_window([float(s) for s in stamps], 20.0),
        "max_2s_server": max_in_window(admitted, 2.0),
    }


def time_zones(conninfo: str) -> dict[str, int]:
    """How many of 10 acquires a 5/min bucket admits when two session time zones mix.

    Blocking with a 1 s timeout, so a refusal from lock contention (the other limiter's
    background leak also locks the table) is retried, and only a full window refuses.
    """
    result = {}
    for first, second in (("America/Los_Angeles", "UTC"), ("UTC", "America/Los_Angeles")):
        name = f"tz_{first[:3].lower()}_{second[:3].lower()}"
        rates = [PyRate(5, Duration.MINUTE)]
        a, b = _limiter(conninfo, name, rates, first), _limiter(conninfo, name, rates, second)
        got = sum(bool(a.try_acquire("c", blocking=True, timeout=1)) for _ in range(5))
        got += sum(bool(b.try_acquire("c", blocking=True, timeout=1)) for _ in range(5))
        result[f"{first} then {second}"] = got
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sandbox-seconds", type=float, default=12.0)
    args = parser.parse_args()
    with scratch_pg("cfeval") as url:
        conninfo = libpq_url(url)
        nonblocking = spurious_refusals(conninfo, args.seconds, blocking=False)
        blocking = spurious_refusals(conninfo, args.seconds, blocking=True)
        print(
            f"\n1. 16 contenders, a rate that never fills (1,000,000/hour), {args.seconds:g}s each:"
        )
        rows = [
            [
                mode,
                r["admitted"],
                r["refused"],
                f"{r['refused_pct']:.1f}%",
                f"{r['per_s']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
            ]
            for mode, r in (("non-blocking", nonblocking), ("blocking", blocking))
        ]
        print(
            table(
                [
                    "acquire",
                    "admitted",
                    "refused (all spurious)",
                    "refused %",
                    "admitted/s",
                    "p50 ms",
                    "p99 ms",
                ],
                rows,
            )
        )
        print(f"\n2. sandbox (20/2s, 150/20s), 12 contenders, {args.sandbox_seconds:g}s:")
        rows = []
        for zones in (("UTC",), ("UTC", "America/Los_Angeles")):
            run = sandbox_run(conninfo, args.sandbox_seconds, zones)
            rows.append(
                [
                    " + ".join(zones),
                    run["admitted"],
                    run["best"],
                    run["throttled"],
                    run["max_2s_bucket"],
                    run["max_20s_bucket"],
                    run["max_2s_server"],
                ]
            )
        print(
            table(
                [
                    "session time zones",
                    "admitted",
                    "best possible",
                    "429s",
                    "max in 2s (bucket, UTC)",
                    "max in 20s (bucket, UTC)",
                    "max in 2s (server)",
                ],
                rows,
            )
        )
        zones = time_zones(conninfo)
        print("\n3. one 5/min bucket, two sessions in different time zones, 5 acquires each:")
        print(table(["order", "admitted of 10 (limit 5)"], [[k, v] for k, v in zones.items()]))


if __name__ == "__main__":
    main()
