"""Usage made elsewhere: weighted ledger rows, the api-usage/ snapshot shared by workers.

Revision ID: 0008_usage
Revises: 0004_catalogue
Create Date: 2026-11-30

- ``api_call_ledger.weight``: how many calls a row stands for (1 for a reservation; the
  calls another client made, learnt from ``api-usage/``, are one row of their count).
  ``seq`` becomes the cumulative number of calls up to and including the row, so the
  N-th newest call is still one index probe (the first row with ``seq >= top - N + 1``).
  Existing rows all weigh 1, so their gap-free seqs are already cumulative.
- ``api_budget_blocks.usage_*``: the latest ``api-usage/`` answer (JSON), when it was
  asked for, and the snapshot last applied to the ledger: every worker reuses a fresh
  answer instead of spending the endpoint's own quota (10/min, 120/hour).
- ``courtflow_reserve()`` is replaced to count weights.
- ``cl_recap_documents.docket_entry_id`` is dropped: the server's RECAPDocument
  serializer excludes ``docket_entry``, so the column was always NULL.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_usage"
down_revision: str | None = "0004_catalogue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

_SIGNATURE = (
    "courtflow_reserve(text, integer[], double precision[], double precision, text, integer,"
    " text, text, text, text, boolean, boolean)"
)

# As 0002_budget's function, except that a rate's blocker is the row holding the N-th
# newest call (rows weigh 1 or more; seq counts calls), and no row when fewer calls exist.
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
    v_seq bigint;
    v_weight bigint;
    v_target bigint;
    v_room boolean := true;
BEGIN
    IF NOT p_synchronous THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock(1130777719, hashtext(p_key));
    o_now := clock_timestamp();
    o_blockers := '{}';
    SELECT b.blocked_until, b.server_rates INTO o_blocked_until, o_server_rates
      FROM api_budget_blocks b WHERE b.budget_key = p_key;
    SELECT l.seq, l.reserved_at INTO v_top, v_newest
      FROM api_call_ledger l WHERE l.budget_key = p_key ORDER BY l.seq DESC LIMIT 1;
    FOR i IN 1 .. coalesce(array_length(p_limits, 1), 0) LOOP
        v_blocker := NULL;
        IF p_limits[i] <= 0 THEN
            v_room := false;
        ELSIF v_top IS NOT NULL THEN
            v_target := v_top - p_limits[i] + 1;
            v_seq := NULL;
            SELECT l.seq, l.weight,
                   greatest(l.reserved_at, l.reported_at - make_interval(secs => p_margin))
              INTO v_seq, v_weight, v_blocker FROM api_call_ledger l
             WHERE l.budget_key = p_key AND l.seq >= v_target ORDER BY l.seq LIMIT 1;
            IF v_seq IS NULL OR v_seq - v_weight >= v_target THEN
                v_blocker := NULL;  -- fewer calls than the limit in the whole log
            ELSIF v_blocker + make_interval(secs => p_windows[i]) > o_now THEN
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
    with op.batch_alter_table("api_call_ledger") as batch:
        batch.add_column(sa.Column("weight", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("api_budget_blocks") as batch:
        batch.add_column(sa.Column("usage_payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("usage_asked_at", TS, nullable=True))
        batch.add_column(sa.Column("usage_applied_at", TS, nullable=True))
    op.drop_index("ix_cl_recap_documents_docket_entry_id", table_name="cl_recap_documents")
    with op.batch_alter_table("cl_recap_documents") as batch:
        batch.drop_column("docket_entry_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RESERVE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        previous = importlib.import_module("courtflow.store.migrations.versions.0002_budget")
        op.execute(previous.RESERVE_FUNCTION)
    with op.batch_alter_table("cl_recap_documents") as batch:
        batch.add_column(sa.Column("docket_entry_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_cl_recap_documents_docket_entry_id", "cl_recap_documents", ["docket_entry_id"]
    )
    with op.batch_alter_table("api_budget_blocks") as batch:
        batch.drop_column("usage_applied_at")
        batch.drop_column("usage_asked_at")
        batch.drop_column("usage_payload")
    # Weighted rows cannot be represented without the column: drop them, and number the
    # rest one call each again (negated first, so no step clashes on (budget_key, seq)).
    op.execute("DELETE FROM api_call_ledger WHERE weight <> 1")
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE api_call_ledger SET seq = -seq"))
    rows = bind.execute(
        sa.text("SELECT id, budget_key FROM api_call_ledger ORDER BY budget_key, seq DESC")
    ).all()
    numbers: dict[str, int] = {}
    for row_id, key in rows:
        numbers[key] = numbers.get(key, 0) + 1
        bind.execute(
            sa.text("UPDATE api_call_ledger SET seq = :s WHERE id = :i"),
            {"s": numbers[key], "i": row_id},
        )
    with op.batch_alter_table("api_call_ledger") as batch:
        batch.drop_column("weight")
