"""The call budget: ledger, blocks, hourly metrics; on PostgreSQL the reserve function.

Revision ID: 0002_budget
Revises: 0001_store
Create Date: 2026-05-01

A frozen copy of the shapes in courtflow/budget/tables.py at this revision. On
PostgreSQL it also creates ``courtflow_reserve()``: the whole reservation (lock,
clock, windows, insert) in one round trip, so the budget key's lock is held only for
the server-side work (see courtflow/budget/ledger.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_budget"
down_revision: str | None = "0001_store"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TEXT = sa.Text()
BIG = sa.BigInteger()
INT = sa.Integer()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The lock class must equal courtflow.budget.ledger.LOCK_CLASS: reconciliation takes
# the same lock from Python. 'reserved' is courtflow.budget.tables.RESERVED.
RESERVE_FUNCTION = """
CREATE OR REPLACE FUNCTION courtflow_reserve(
    p_key text, p_limits integer[], p_windows double precision[], p_margin double precision,
    p_endpoint text, p_attempt integer, p_run_id text, p_task_id text, p_dag_id text,
    p_server_rates text, p_check_server_rates boolean, p_synchronous boolean
) RETURNS TABLE (
    o_call_id bigint, o_now timestamptz, o_blocked_until timestamptz,
    o_server_rates text, o_blockers timestamptz[]
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_top bigint;
    v_newest timestamptz;
    v_blocker timestamptz;
    v_room boolean := true;
BEGIN
    IF NOT p_synchronous THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    -- Each statement below takes a fresh snapshot (READ COMMITTED, volatile function),
    -- so after the lock they see every reservation committed before it.
    PERFORM pg_advisory_xact_lock(1130777719, hashtext(p_key));
    o_now := clock_timestamp();
    o_blockers := '{}';
    SELECT b.blocked_until, b.server_rates INTO o_blocked_until, o_server_rates
      FROM api_budget_blocks b WHERE b.budget_key = p_key;
    SELECT l.seq, l.reserved_at INTO v_top, v_newest
      FROM api_call_ledger l WHERE l.budget_key = p_key ORDER BY l.seq DESC LIMIT 1;
    -- Rate i is full when its N-th newest call is still inside its window
    -- (period + margin): the rule of courtflow.budget.waits.room_at. A reported call
    -- reached the server before its report: it may leave a period after the report
    -- (courtflow.budget.seqlog.counted_from).
    FOR i IN 1 .. coalesce(array_length(p_limits, 1), 0) LOOP
        v_blocker := NULL;
        IF p_limits[i] <= 0 THEN
            v_room := false;
        ELSIF v_top IS NOT NULL THEN
            SELECT greatest(l.reserved_at, l.reported_at - make_interval(secs => p_margin))
              INTO v_blocker FROM api_call_ledger l
             WHERE l.budget_key = p_key AND l.seq = v_top - p_limits[i] + 1;
            IF v_blocker + make_interval(secs => p_windows[i]) > o_now THEN
                v_room := false;
            END IF;
        END IF;
        o_blockers := array_append(o_blockers, v_blocker);
    END LOOP;
    IF o_blocked_until > o_now
       OR (p_check_server_rates AND o_server_rates IS DISTINCT FROM p_server_rates) THEN
        v_room := false;
    END IF;
    IF v_room THEN
        INSERT INTO api_call_ledger (budget_key, seq, reserved_at, endpoint, outcome,
                                     attempt, run_id, task_id, dag_id)
        VALUES (p_key, coalesce(v_top, 0) + 1, greatest(o_now, v_newest), p_endpoint,
                'reserved', p_attempt, p_run_id, p_task_id, p_dag_id)
        RETURNING id INTO o_call_id;
    END IF;
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "api_call_ledger",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("budget_key", TEXT, nullable=False),
        sa.Column("seq", BIG, nullable=False),
        sa.Column("reserved_at", TS, nullable=False),
        sa.Column("reported_at", TS, nullable=True),
        sa.Column("endpoint", TEXT, nullable=True),
        sa.Column("outcome", TEXT, nullable=True),
        sa.Column("status", INT, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("bytes", BIG, nullable=True),
        sa.Column("attempt", INT, nullable=True),
        sa.Column("error_class", TEXT, nullable=True),
        sa.Column("run_id", TEXT, nullable=True),
        sa.Column("task_id", TEXT, nullable=True),
        sa.Column("dag_id", TEXT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_call_ledger")),
    )
    op.create_index(
        "ux_api_call_ledger_budget_key_seq", "api_call_ledger", ["budget_key", "seq"], unique=True
    )
    op.create_index(
        "ix_api_call_ledger_budget_key_reserved_at",
        "api_call_ledger",
        ["budget_key", "reserved_at"],
    )
    op.create_table(
        "api_budget_blocks",
        sa.Column("budget_key", TEXT, nullable=False),
        sa.Column("blocked_until", TS, nullable=True),
        sa.Column("reason", TEXT, nullable=True),
        sa.Column("server_rates", TEXT, nullable=True),
        sa.Column("updated_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("budget_key", name=op.f("pk_api_budget_blocks")),
    )
    op.create_table(
        "api_call_metrics",
        sa.Column("api_name", TEXT, nullable=False),
        sa.Column("timestamp_hour", TS, nullable=False),
        sa.Column("call_count", INT, nullable=False),
        sa.Column("throttled_count", INT, nullable=False, server_default="0"),
        sa.Column("error_count", INT, nullable=False, server_default="0"),
        sa.Column("external_count", INT, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("api_name", "timestamp_hour", name=op.f("pk_api_call_metrics")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RESERVE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS courtflow_reserve(text, integer[], double precision[], "
            "double precision, text, integer, text, text, text, text, boolean, boolean)"
        )
    op.drop_table("api_call_metrics")
    op.drop_table("api_budget_blocks")
    op.drop_table("api_call_ledger")
