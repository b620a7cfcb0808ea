"""A realistic call ledger and store state, written straight into the tables.

Six hours of calls against ``600/hour`` and ``30/min`` with bursts, 429s followed by
retries, server errors, network failures, calls still in flight, external usage, two
runs; rows in three resource tables, checkpoints and watermarks. Deterministic.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from courtflow.budget import tables as budget_tables
from courtflow.budget.rates import parse_rates
from courtflow.store.metadata import metadata
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table, sync_checkpoints, sync_watermarks

KEY = "budget-key-1"
OTHER_KEY = "budget-key-2"
END = datetime(2024, 5, 1, 18, 0, tzinfo=UTC)
START = END - timedelta(hours=6)
RATES = parse_rates("600/hour,30/min")
DAG = "courtlistener_pipeline"
RUNS = ("scheduled__2024-05-01T12:00:00+00:00", "scheduled__2024-05-01T15:00:00+00:00")
ROWS = {"dockets": 120, "clusters": 40, "opinions": 15}
WATERMARK_AGE = {
    "dockets": timedelta(hours=2), "clusters": timedelta(days=1), "opinions": timedelta(days=3),
}  # fmt: skip


@dataclass(frozen=True)
class LedgerRow:
    budget_key: str
    reserved_at: datetime
    endpoint: str
    outcome: str
    status: int | None
    duration_ms: float | None
    attempt: int
    error_class: str | None
    run_id: str | None
    task_id: str | None


LedgerDb = tuple[Engine, list[LedgerRow]]


def prepare_schema(engine: Engine) -> None:
    """Migrate; create the budget tables directly if their migration is not there yet."""
    upgrade(engine)
    metadata.create_all(
        engine,
        tables=[budget_tables.api_call_ledger, budget_tables.api_budget_blocks,
                budget_tables.api_call_metrics],
        checkfirst=True,
    )  # fmt: skip


def make_rows(seed: int = 7) -> list[LedgerRow]:
    rnd = random.Random(seed)
    rows: list[LedgerRow] = []
    endpoints = ("dockets/", "clusters/", "opinions/")
    t = START + timedelta(seconds=30)
    while t < END - timedelta(minutes=1):
        run = RUNS[0] if t < START + timedelta(hours=3) else RUNS[1]
        endpoint = rnd.choice(endpoints)
        task = f"sync_{endpoint.rstrip('/')}"
        roll = rnd.random()
        ms = round(rnd.lognormvariate(5.3, 0.5), 3)
        if roll < 0.04:
            rows.append(LedgerRow(KEY, t, endpoint, "throttled", 429, ms, 1, "ThrottledError",
                                  run, task))  # fmt: skip
            t += timedelta(seconds=2)
            rows.append(LedgerRow(KEY, t, endpoint, "ok", 200, ms, 2, None, run, task))
        elif roll < 0.07:
            rows.append(LedgerRow(KEY, t, endpoint, "http_error", 503, ms, 1, "ServerError",
                                  run, task))  # fmt: skip
            t += timedelta(seconds=1)
            rows.append(LedgerRow(KEY, t, endpoint, "ok", 200, ms, 2, None, run, task))
        elif roll < 0.08:
            rows.append(LedgerRow(KEY, t, endpoint, "network", None, 10000.0, 1, "NetworkError",
                                  run, task))  # fmt: skip
        elif roll < 0.10:
            rows.append(LedgerRow(KEY, t, "api-usage-elsewhere", "external", None, None, 1, None,
                                  None, None))  # fmt: skip
        else:
            rows.append(LedgerRow(KEY, t, endpoint, "ok", 200, ms, 1, None, run, task))
        # Bursts of back-to-back calls at the top of each hour, calmer otherwise.
        burst = t.minute < 10
        t += timedelta(seconds=rnd.uniform(2.0, 2.6) if burst else rnd.uniform(8.0, 16.0))
    rows.append(LedgerRow(KEY, END - timedelta(seconds=5), "dockets/", "reserved", None, None, 1,
                          None, RUNS[1], "sync_dockets"))  # fmt: skip
    # Another token's calls share the table and must not leak into KEY's history.
    rows.extend(
        LedgerRow(OTHER_KEY, START + timedelta(minutes=i), "dockets/", "ok", 200, 5.0, 1, None,
                  "other_run", "sync_dockets")
        for i in range(50)
    )
    return rows


def insert_ledger(engine: Engine, rows: list[LedgerRow]) -> None:
    ledger = budget_tables.api_call_ledger
    payload: list[dict[str, Any]] = [
        {
            "budget_key": r.budget_key, "reserved_at": r.reserved_at, "endpoint": r.endpoint,
            "outcome": r.outcome, "status": r.status, "duration_ms": r.duration_ms,
            "bytes": 2048 if r.status == 200 else 0, "attempt": r.attempt,
            "error_class": r.error_class, "run_id": r.run_id, "task_id": r.task_id,
            "dag_id": DAG if r.run_id else None,
            # Opinions are a backfill that waited in the queue; the rest incremental.
            "priority": "backfill" if r.endpoint == "opinions/" else (
                "incremental" if r.run_id else None),
            "queued_ms": 1500.0 if r.endpoint == "opinions/" and r.attempt == 1 else None,
        }
        for r in sorted(rows, key=lambda r: (r.budget_key, r.reserved_at))
    ]
    if "seq" in ledger.c:
        # The budget numbers each key's rows in time order, without gaps.
        seqs: dict[str, int] = {}
        for row in payload:
            seqs[row["budget_key"]] = row["seq"] = seqs.get(row["budget_key"], 0) + 1
    with engine.begin() as conn:
        conn.execute(insert(ledger), payload)


def insert_store_state(engine: Engine) -> None:
    loaded = END - timedelta(minutes=10)
    with engine.begin() as conn:
        for resource, count in ROWS.items():
            table = resource_table(resource)
            data = [
                {
                    "id": i + 1,
                    "date_created": START, "date_modified": START + timedelta(seconds=i),
                    "data": {"id": i + 1, "resource": resource},
                    "content_hash": hashlib.sha256(
                        json.dumps([resource, i]).encode()).hexdigest(),
                    "run_id": RUNS[1], "loaded_at": loaded,
                }
                for i in range(count)
            ]
            conn.execute(insert(table), data)
            conn.execute(insert(sync_watermarks), {
                "resource": resource, "watermark": END - WATERMARK_AGE[resource],
                "updated_at": loaded, "run_id": RUNS[1],
            })  # fmt: skip
            conn.execute(insert(sync_checkpoints), {
                "resource": resource, "window_start": START, "window_end": END,
                "next_url": None, "pages": 3, "rows": count, "calls": 3, "done": True,
                "updated_at": loaded, "run_id": RUNS[1],
            })  # fmt: skip


def build_all(engine: Engine) -> list[LedgerRow]:
    prepare_schema(engine)
    rows = make_rows()
    insert_ledger(engine, rows)
    insert_store_state(engine)
    return rows
