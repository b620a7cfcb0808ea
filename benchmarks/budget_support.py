"""Shared by the benchmarks: a scratch PostgreSQL database, percentiles and tables."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

SERVER = os.environ.get(
    "COURTFLOW_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_pg(prefix: str = "cfbudget") -> Iterator[str]:
    """A fresh PostgreSQL database URL on the local server, dropped afterwards."""
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from courtflow.budget.budget import dispose_reserving_engine
        from courtflow.store.engine import dispose_engine

        dispose_reserving_engine(url)
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as plain libpq conninfo (for psycopg.connect)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def max_in_window(times: Sequence[float], period: float) -> int:
    """The most calls any sliding window of ``period`` seconds holds (server's rule)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - period:
            first += 1
        best = max(best, last - first + 1)
    return best


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
