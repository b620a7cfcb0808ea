"""Asking ``api-usage/`` politely: its own budget, a shared answer, never in a sync's way.

``api-usage/`` costs none of the main quota but has its own throttle (scope
``api_usage``: 10/min and 120/hour per user, ``cl/settings/third_party/rest_framework.py``).
Every process start, 429 and trigger wake wants a fresh view, so:

- a fresh answer (younger than ``fresh`` seconds) kept in the target database is used by
  every worker instead of asking again;
- otherwise each request is reserved first from a budget of its own in the same ledger
  (key ``<budget key>:api_usage``), shared by all workers; no room means no request;
- a 429 (or any error) from it blocks only that budget; reconciliation is skipped and
  happens at the next occasion. The main budget and the sync never wait for it.

>>> sync_usage(budget, client.api_usage)     # -> external calls added to the ledger
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from courtflow.budget import ledger
from courtflow.budget.rates import parse_rates
from courtflow.budget.tables import USAGE_KEY_SUFFIX, not_usage_key, usage_key
from courtflow.client.gate import CallReport, Outcome
from courtflow.client.usage import ApiUsage, parse_api_usage
from courtflow.errors import CourtflowError, ThrottledError

__all__ = [
    "ENDPOINT",
    "FRESH_SECONDS",
    "USAGE_KEY_SUFFIX",
    "USAGE_RATES",
    "Reconciling",
    "not_usage_key",
    "sync_usage",
    "usage_key",
]

log = logging.getLogger("courtflow.budget")

USAGE_RATES = parse_rates("10/min,120/hour")  # the server's api_usage scope
FRESH_SECONDS = 15.0
ENDPOINT = "api-usage/"


class Reconciling(Protocol):
    """What reconciling needs of a budget (:class:`courtflow.budget.budget.Budget`, which
    calls this module: a protocol keeps the dependency one way)."""

    engine: Engine
    key: str
    margin: float

    def reconcile(self, api_usage: ApiUsage, asked_at: datetime | None = None) -> int: ...


def sync_usage(
    budget: Reconciling, source: Callable[[], ApiUsage], *, fresh: float | None = None
) -> int:
    """Reconcile ``budget`` with a fresh ``api-usage/`` answer, asking only when paced.

    An answer kept less than ``fresh`` seconds (default :data:`FRESH_SECONDS`) is used as
    is. Returns the external calls added (0 when skipped). Never raises a CourtflowError.
    """
    fresh = FRESH_SECONDS if fresh is None else fresh
    with budget.engine.begin() as conn:
        now = ledger.db_now(conn)
        kept = ledger.read_usage(conn, budget.key)
    if kept.payload and kept.asked_at and kept.asked_at > now - timedelta(seconds=fresh):
        try:
            usage = parse_api_usage(json.loads(kept.payload))
        except (CourtflowError, ValueError):
            usage = None
        if usage is not None:
            return budget.reconcile(usage, asked_at=kept.asked_at)
    key = usage_key(budget.key)
    with budget.engine.begin() as conn:
        # No run or task ids: these calls serve every worker of the token, and a task's
        # call count (courtflow.airflow.totals) is of the main quota.
        r = ledger.try_reserve(conn, key, USAGE_RATES, budget.margin, ENDPOINT)
    if not r.granted or r.call_id is None:
        log.info(
            "api-usage/ budget full for %.0fs: reconciliation skipped until a later occasion",
            r.wait,
            extra={"event": "reconcile_skipped", "reason": "api_usage budget"},
        )
        return 0
    asked = ledger.at(r.now)
    started = time.perf_counter()
    try:
        usage = source()
    except ThrottledError as exc:
        _report(budget, r.call_id, started, 429, "throttled", type(exc).__name__)
        with budget.engine.begin() as conn:
            until = ledger.db_now(conn) + timedelta(seconds=exc.retry_after)
            ledger.block(conn, key, until, f"api-usage/ 429 Retry-After: {exc.retry_after:g}s")
        log.info(
            "api-usage/ throttled for %.0fs: reconciliation skipped",
            exc.retry_after,
            extra={"event": "reconcile_skipped", "reason": "api_usage 429"},
        )
        return 0
    except CourtflowError as exc:
        _report(budget, r.call_id, started, None, "http_error", type(exc).__name__)
        # Routine and retried at the next occasion; the sync's own calls report the cause.
        log.info("api-usage/ reconciliation skipped: %s", type(exc).__name__)
        return 0
    _report(budget, r.call_id, started, 200, "ok", None)
    with budget.engine.begin() as conn:
        ledger.store_usage(conn, budget.key, json.dumps(usage.as_payload()), asked)
    return budget.reconcile(usage, asked_at=asked)


def _report(
    budget: Reconciling,
    call_id: int,
    started: float,
    status: int | None,
    outcome: Outcome,
    error: str | None,
) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000.0, 3)
    report = CallReport(status=status, outcome=outcome, duration_ms=duration_ms, error_class=error)
    with budget.engine.begin() as conn:
        ledger.record(conn, call_id, report)
