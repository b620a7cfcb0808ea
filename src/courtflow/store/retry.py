"""Transient database errors and the one retry policy for every path that touches the target.

A restart, failover or network blip of the target database must not kill a sync: the
reservation, the call report, the page commit, the checkpoint read, the budget trigger
and the sensor all run their database work through :func:`run_with_db_retry`, which
retries what :func:`is_transient_db_error` calls transient with jittered exponential
backoff, for at most ``DbRetryPolicy.seconds``. Every retried unit is a whole
transaction that is safe to repeat (upserts and checkpoints are idempotent; a repeated
reservation can only over-count, the safe direction). A longer outage raises
:class:`~courtflow.errors.DatabaseUnavailableError` naming the database, password masked.

    policy = DbRetryPolicy(seconds=60)
    with_retry = run_with_db_retry(engine, lambda: commit_page(engine, page), policy,
                                   what="page commit")
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from courtflow.errors import DatabaseUnavailableError
from courtflow.redact import redact

log = logging.getLogger("courtflow.store.retry")

_T = TypeVar("_T")

# SQLSTATEs worth another try: the transaction may succeed on a fresh connection or later.
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown (server stopping, pg_terminate_backend)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovery)
        "53300",  # too_many_connections
        "53400",  # configuration_limit_exceeded
        "58000",  # system_error (I/O during restart)
        "08000", "08001", "08003", "08004", "08006", "08007",  # connection exceptions
    }
)
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error")


@dataclass(frozen=True)
class DbRetryPolicy:
    """Backoff ``min(max_wait, initial * 2**n)`` with jitter, for at most ``seconds`` in total."""

    seconds: float = 60.0
    initial: float = 0.2
    max_wait: float = 5.0

    def __post_init__(self) -> None:
        if self.seconds < 0 or self.initial <= 0 or self.max_wait <= 0:
            raise ValueError("DbRetryPolicy: seconds >= 0, initial and max_wait > 0")

    def wait(self, attempt: int) -> float:
        base = min(self.max_wait, self.initial * 2.0 ** min(attempt, 30))
        return base * (0.5 + random.random() / 2)


def _sqlstate(exc: BaseException) -> str | None:
    orig: Any = getattr(exc, "orig", exc)
    for name in ("sqlstate", "pgcode"):
        value = getattr(orig, name, None)
        if isinstance(value, str):
            return value
    diag = getattr(orig, "diag", None)
    value = getattr(diag, "sqlstate", None)
    return value if isinstance(value, str) else None


def is_transient_db_error(exc: BaseException) -> bool:
    """True for a lost connection, a server shutting down or starting, a deadlock, a
    serialisation failure or a busy SQLite file: the same transaction may succeed again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    if state is not None:
        return state in TRANSIENT_SQLSTATES or state.startswith("08")
    orig: Any = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return any(marker in text for marker in _SQLITE_TRANSIENT)
    if isinstance(exc, OperationalError):
        # psycopg raises OperationalError without SQLSTATE when it cannot connect at all
        # (refused, reset, server closed the connection unexpectedly).
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(orig, psycopg.OperationalError)


def describe_database(engine: Engine) -> str:
    """The engine's URL with the password masked."""
    return engine.url.render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return redact(lines[0]) if lines else type(orig).__name__


def run_with_db_retry(
    engine: Engine,
    work: Callable[[], _T],
    policy: DbRetryPolicy | None = None,
    *,
    what: str = "database work",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> _T:
    """Run ``work`` (one whole transaction), retrying transient database errors.

    ``work`` must be safe to run again after a failure part-way (it is one transaction:
    either it committed or it did not, and repeating a committed one is harmless).
    """
    policy = policy or DbRetryPolicy()
    deadline = clock() + policy.seconds
    attempt = 0
    while True:
        try:
            return work()
        except Exception as exc:
            if not is_transient_db_error(exc):
                raise
            attempt += 1
            pause = policy.wait(attempt - 1)
            if clock() + pause > deadline:
                raise DatabaseUnavailableError(
                    f"target database {describe_database(engine)} unavailable during {what} "
                    f"for {policy.seconds:g}s ({attempt} attempts): {first_line(exc)}"
                ) from None
            log.warning(
                "transient database error during %s (attempt %d), retrying in %.1fs: %s",
                what,
                attempt,
                pause,
                first_line(exc),
                extra={"event": "db_retry", "what": what, "attempt": attempt},
            )
            sleep(pause)
