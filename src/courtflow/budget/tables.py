"""The budget's tables in the target database (migrations ``0002_budget``, ``0005_budget_classes``).

- ``api_call_ledger``: one row per reserved HTTP attempt, stamped with the database
  clock; the sliding windows are counted over it.
- ``api_budget_blocks``: one row per budget key: the server's block (429 Retry-After)
  that every worker honours, and the user rates the server last reported.
- ``api_budget_tickets``: one row per caller waiting for room: its priority class and
  arrival fix its place in the queue; its lease expires if the caller dies.
- ``api_budget_bookings``: calls a higher class expects to need at a known moment (a
  scheduled run): lower classes leave that room free (``0009_bookings``).
- ``api_call_metrics``: the reference design's hourly counters, kept as an idempotent
  roll-up of the ledger for dashboards (never used to decide).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from courtflow.store.coltypes import UTCDateTime
from courtflow.store.metadata import metadata

# Values of api_call_ledger.outcome besides courtflow.client.gate.Outcome.
RESERVED = "reserved"  # reserved, not reported yet (in flight, or the worker died)
EXTERNAL = "external"  # usage made elsewhere with the same token, learnt from api-usage/

# api-usage/ asks are reserved from a budget of their own (courtflow.budget.usage_sync),
# a key named after the main one; figures of the quota leave those keys out.
USAGE_KEY_SUFFIX = ":api_usage"


def usage_key(key: str) -> str:
    """The ledger key of ``api-usage/``'s own budget for the main budget ``key``."""
    return f"{key}{USAGE_KEY_SUFFIX}"


def not_usage_key(column: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: ``column`` (a budget key) is not one of ``api-usage/``'s own budgets."""
    return column.not_like("%" + USAGE_KEY_SUFFIX.replace("_", "\\_"), escape="\\")

api_call_ledger = Table(
    "api_call_ledger",
    metadata,
    # INTEGER PRIMARY KEY is SQLite's rowid alias; BIGINT elsewhere (years of calls).
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("budget_key", Text(), nullable=False),
    # Calls of the key's log up to and including this row, oldest first: the N-th newest
    # call is then one index probe (the first row with seq >= max - N + 1), not a walk
    # over the window (migration 0008_usage; before it every row weighed 1).
    Column("seq", BigInteger(), nullable=False),
    # How many calls the row stands for: 1 for a reservation; usage made elsewhere,
    # learnt from api-usage/, is one row of its count (courtflow.budget.external).
    Column("weight", Integer(), nullable=False, server_default="1"),
    Column("reserved_at", UTCDateTime(), nullable=False),
    # When the outcome was recorded (database clock): the server saw the call before
    # then, so a call that reached it late (a cold connection, a stalled thread) is not
    # released too early; see courtflow.budget.seqlog.counted_from.
    Column("reported_at", UTCDateTime(), nullable=True),
    Column("endpoint", Text(), nullable=True),
    Column("outcome", Text(), nullable=True),
    Column("status", Integer(), nullable=True),
    Column("duration_ms", Float(), nullable=True),
    Column("bytes", BigInteger(), nullable=True),
    Column("attempt", Integer(), nullable=True),
    Column("error_class", Text(), nullable=True),
    Column("run_id", Text(), nullable=True),
    Column("task_id", Text(), nullable=True),
    Column("dag_id", Text(), nullable=True),
    # The reservation's priority class (courtflow.budget.classes), and how long it waited
    # in the queue before admission (NULL: admitted at once).
    Column("priority", Text(), nullable=True),
    Column("queued_ms", Float(), nullable=True),
)
Index(
    "ux_api_call_ledger_budget_key_seq",
    api_call_ledger.c.budget_key,
    api_call_ledger.c.seq,
    unique=True,
)
# Time ranges: usage, reconciliation, roll-up, purge.
Index(
    "ix_api_call_ledger_budget_key_reserved_at",
    api_call_ledger.c.budget_key,
    api_call_ledger.c.reserved_at,
)

api_budget_blocks = Table(
    "api_budget_blocks",
    metadata,
    Column("budget_key", Text(), primary_key=True),
    Column("blocked_until", UTCDateTime(), nullable=True),
    Column("reason", Text(), nullable=True),
    # The user rates api-usage/ reported (comma-separated), shared by every worker.
    Column("server_rates", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),
    # The latest api-usage/ answer (JSON) and when it was asked for (database clock),
    # shared so workers do not spend that endpoint's own quota; and the snapshot last
    # applied to the ledger, so an older one never replaces a newer one.
    Column("usage_payload", Text(), nullable=True),
    Column("usage_asked_at", UTCDateTime(), nullable=True),
    Column("usage_applied_at", UTCDateTime(), nullable=True),
)

api_budget_tickets = Table(
    "api_budget_tickets",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("budget_key", Text(), nullable=False),
    Column("priority", Text(), nullable=False),
    Column("rank", Integer(), nullable=False),
    Column("arrived_at", UTCDateTime(), nullable=False),
    # Since when the holder has been waiting (NULL: admitted, back within its linger).
    Column("waiting_since", UTCDateTime(), nullable=True),
    # When its holder is expected back (its turn); an equal late past it is passed over.
    Column("turn_at", UTCDateTime(), nullable=True),
    # The holder renews the lease on every attempt; past it the ticket is ignored and
    # deleted, so a crashed waiter holds nobody up for longer than its grace.
    Column("lease_until", UTCDateTime(), nullable=False),
    Column("run_id", Text(), nullable=True),
    Column("task_id", Text(), nullable=True),
    # A holder keeps its ticket's id across attempts: SQLite must never hand a deleted
    # (lapsed) ticket's id to a newcomer, or the old holder would come back as it
    # (0014_admit_now; PostgreSQL's sequence never reuses one).
    sqlite_autoincrement=True,
)
Index("ix_api_budget_tickets_budget_key", api_budget_tickets.c.budget_key)

api_budget_bookings = Table(
    "api_budget_bookings",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("budget_key", Text(), nullable=False),
    Column("priority", Text(), nullable=False),
    Column("rank", Integer(), nullable=False),
    # When the calls are expected, and how many are still to come: each admission of
    # the class from shortly before due_at takes one off.
    Column("due_at", UTCDateTime(), nullable=False),
    Column("need", Integer(), nullable=False),
    # Past this the booking holds nothing (its run never came, or came without using it).
    Column("lease_until", UTCDateTime(), nullable=False),
    Column("booked_at", UTCDateTime(), nullable=False),
    Column("run_id", Text(), nullable=True),
    Column("task_id", Text(), nullable=True),
    Column("dag_id", Text(), nullable=True),
    sqlite_autoincrement=True,  # ids are never reused: cancelling one is by id
)
Index("ix_api_budget_bookings_budget_key", api_budget_bookings.c.budget_key)

api_call_metrics = Table(
    "api_call_metrics",
    metadata,
    Column("api_name", Text(), nullable=False),
    Column("timestamp_hour", UTCDateTime(), nullable=False),
    Column("call_count", Integer(), nullable=False),
    Column("throttled_count", Integer(), nullable=False, server_default="0"),
    Column("error_count", Integer(), nullable=False, server_default="0"),
    Column("external_count", Integer(), nullable=False, server_default="0"),
    PrimaryKeyConstraint("api_name", "timestamp_hour"),
)

BUDGET_TABLES: tuple[str, ...] = (
    api_call_ledger.name,
    api_budget_blocks.name,
    api_budget_tickets.name,
    api_call_metrics.name,
)
