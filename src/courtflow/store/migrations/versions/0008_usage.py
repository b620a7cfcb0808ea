"""Usage made elsewhere: weighted ledger rows, the api-usage/ snapshot shared by workers.

Revision ID: 0008_usage
Revises: 0007_bootstrap
Create Date: 2026-11-30

- ``api_call_ledger.weight``: how many calls a row stands for (1 for a reservation; the
  calls another client made, learnt from ``api-usage/``, are one row of their count).
  ``seq`` becomes the cumulative number of calls up to and including the row, so the
  N-th newest call is still one index probe (the first row with ``seq >= top - N + 1``).
  Existing rows all weigh 1, so their gap-free seqs are already cumulative.
- ``api_budget_blocks.usage_*``: the latest ``api-usage/`` answer (JSON), when it was
  asked for, and the snapshot last applied to the ledger: every worker reuses a fresh
  answer instead of spending the endpoint's own quota (10/min, 120/hour).
- ``courtflow_admit()`` (0005_budget_classes) and ``courtflow_reserve()`` are replaced
  to count weights: a rate's blocker (and a waiter's slot) is the row holding the N-th
  newest call, none when fewer calls exist; class shares sum weights.
- ``cl_recap_documents.docket_entry_id`` is dropped: the server's RECAPDocument
  serializer excludes ``docket_entry``, so the column was always NULL.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_usage"
down_revision: str | None = "0007_bootstrap"
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


ADMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION courtflow_admit(
    p_key text, p_limits integer[], p_windows double precision[], p_margin double precision,
    p_endpoint text, p_attempt integer, p_run_id text, p_task_id text, p_dag_id text,
    p_server_rates text, p_check_server_rates boolean, p_synchronous boolean,
    p_priority text, p_rank integer, p_ticket bigint, p_peek boolean, p_queue boolean,
    p_hold double precision, p_grace double precision, p_linger double precision,
    p_share_classes text[], p_shares double precision[], p_share_span integer
) RETURNS TABLE (
    o_call_id bigint, o_now timestamptz, o_blocked_until timestamptz,
    o_server_rates text, o_blockers timestamptz[], o_ticket bigint, o_ahead integer,
    o_wake timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_top bigint;
    v_newest timestamptz;
    v_blocker timestamptz;
    v_room boolean := true;
    v_arrived timestamptz;
    v_since timestamptz;
    v_waiting boolean;
    v_hungry text[] := '{}';
    v_count bigint;
    v_span bigint;
    v_eff integer;
    v_slot timestamptz;
    v_n integer;
    v_seq bigint;
    v_weight bigint;
    v_target bigint;
BEGIN
    IF NOT p_synchronous THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock(1130777719, hashtext(p_key));
    o_now := clock_timestamp();
    o_blockers := '{}';
    o_ahead := 0;
    SELECT b.blocked_until, b.server_rates INTO o_blocked_until, o_server_rates
      FROM api_budget_blocks b WHERE b.budget_key = p_key;
    SELECT l.seq, l.reserved_at INTO v_top, v_newest
      FROM api_call_ledger l WHERE l.budget_key = p_key ORDER BY l.seq DESC LIMIT 1;
    -- The windows, as in courtflow_reserve().
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
    -- The queue: live tickets served before this caller (higher effective rank, or the
    -- same and earlier arrival; a caller without a ticket arrives now, after its equals
    -- that arrived by now; a ticket back within its linger arrives when that ends).
    IF p_ticket IS NOT NULL THEN
        SELECT t.id, t.arrived_at, t.waiting_since INTO o_ticket, v_arrived, v_since
          FROM api_budget_tickets t
         WHERE t.id = p_ticket AND t.budget_key = p_key AND t.lease_until > o_now;
    END IF;
    IF v_since IS NULL THEN
        -- Back within its linger: it arrives now, like a caller without a ticket (its
        -- claim holds off lower classes only).
        v_arrived := NULL;
    END IF;
    SELECT EXISTS (SELECT 1 FROM api_budget_tickets t WHERE t.budget_key = p_key
                    AND t.lease_until > o_now AND t.id IS DISTINCT FROM o_ticket)
      INTO v_waiting;
    IF v_waiting THEN
        IF coalesce(array_length(p_share_classes, 1), 0) > 0 AND v_top IS NOT NULL THEN
            v_span := least(p_share_span::bigint, v_top);
            FOR i IN 1 .. array_length(p_share_classes, 1) LOOP
                SELECT coalesce(sum(l.weight), 0) INTO v_count FROM api_call_ledger l
                 WHERE l.budget_key = p_key AND l.seq > v_top - v_span
                   AND coalesce(l.priority, 'incremental') = p_share_classes[i];
                IF v_count < p_shares[i] * v_span THEN
                    v_hungry := array_append(v_hungry, p_share_classes[i]);
                END IF;
            END LOOP;
        END IF;
        v_eff := p_rank + CASE WHEN p_priority = ANY(v_hungry) THEN 1000 ELSE 0 END;
        SELECT count(*) INTO o_ahead FROM api_budget_tickets t
         WHERE t.budget_key = p_key AND t.lease_until > o_now AND t.id IS DISTINCT FROM o_ticket
           AND (t.rank + CASE WHEN t.priority = ANY(v_hungry) THEN 1000 ELSE 0 END > v_eff
                OR (t.rank + CASE WHEN t.priority = ANY(v_hungry) THEN 1000 ELSE 0 END = v_eff
                    AND (t.arrived_at < coalesce(v_arrived, o_now)
                         OR (v_arrived IS NULL AND t.arrived_at = o_now)
                         OR (t.arrived_at = v_arrived AND t.id < o_ticket))
                    -- An equal that is late for its turn (asleep on a busy host, a task
                    -- resuming) does not hold its class up; a higher class always does.
                    AND (t.turn_at IS NULL OR t.turn_at > o_now - make_interval(secs => 0.1))));
    END IF;
    IF v_room AND o_ahead = 0 AND NOT p_peek THEN
        INSERT INTO api_call_ledger (budget_key, seq, reserved_at, endpoint, outcome,
                                     attempt, run_id, task_id, dag_id, priority, queued_ms)
        VALUES (p_key, coalesce(v_top, 0) + 1, greatest(o_now, v_newest), p_endpoint,
                'reserved', p_attempt, p_run_id, p_task_id, p_dag_id, p_priority,
                extract(epoch FROM o_now - v_since) * 1000.0)
        RETURNING id INTO o_call_id;
        IF p_queue AND p_linger > 0 THEN
            -- Between its calls (a page to store) the caller keeps its class's claim for
            -- p_linger, so a lower class cannot take the rest of a burst meanwhile; it
            -- re-arrives after its equals that came while it was away.
            IF o_ticket IS NULL THEN
                INSERT INTO api_budget_tickets (budget_key, priority, rank, arrived_at,
                                                lease_until, run_id, task_id)
                VALUES (p_key, p_priority, p_rank, o_now + make_interval(secs => p_linger),
                        o_now + make_interval(secs => p_linger), p_run_id, p_task_id)
                RETURNING id INTO o_ticket;
            ELSE
                UPDATE api_budget_tickets
                   SET arrived_at = o_now + make_interval(secs => p_linger),
                       lease_until = o_now + make_interval(secs => p_linger),
                       waiting_since = NULL, turn_at = NULL
                 WHERE id = o_ticket;
            END IF;
        ELSIF o_ticket IS NOT NULL THEN
            DELETE FROM api_budget_tickets WHERE id = o_ticket;
            o_ticket := NULL;
        END IF;
        o_wake := o_now;
        RETURN NEXT;
        RETURN;
    END IF;
    -- Not admitted (or a peek): this caller's slot is the (ahead+1)-th to free up. Rate
    -- i frees its next slots as its oldest calls leave; a slot j calls later frees one
    -- window after slot j - N did.
    o_wake := o_now;
    IF NOT (v_room AND o_ahead = 0) THEN
        FOR i IN 1 .. coalesce(array_length(p_limits, 1), 0) LOOP
            v_n := p_limits[i];
            IF v_n <= 0 THEN
                o_wake := NULL;  -- never: a rate of 0 calls
                EXIT;
            END IF;
            v_slot := NULL;
            IF v_top IS NOT NULL THEN
                v_target := v_top - v_n + 1 + (o_ahead % v_n);
                v_seq := NULL;
                SELECT l.seq, l.weight,
                       greatest(l.reserved_at, l.reported_at - make_interval(secs => p_margin))
                  INTO v_seq, v_weight, v_slot FROM api_call_ledger l
                 WHERE l.budget_key = p_key AND l.seq >= v_target ORDER BY l.seq LIMIT 1;
                IF v_seq IS NULL OR v_seq - v_weight >= v_target THEN
                    v_slot := NULL;
                END IF;
            END IF;
            o_wake := greatest(o_wake,
                greatest(o_now, coalesce(v_slot + make_interval(secs => p_windows[i]), o_now))
                + make_interval(secs => p_windows[i] * (o_ahead / v_n)));
        END LOOP;
        IF o_blocked_until > o_wake THEN
            o_wake := o_blocked_until;
        END IF;
    END IF;
    IF p_queue AND o_wake IS NOT NULL THEN
        IF o_ticket IS NULL THEN
            INSERT INTO api_budget_tickets (budget_key, priority, rank, arrived_at,
                                            waiting_since, turn_at, lease_until, run_id,
                                            task_id)
            VALUES (p_key, p_priority, p_rank, o_now, o_now, o_wake,
                    greatest(o_wake, o_now + make_interval(secs => p_hold))
                    + make_interval(secs => p_grace), p_run_id, p_task_id)
            RETURNING id INTO o_ticket;
        ELSE
            -- A lingering caller that must wait re-arrives now.
            UPDATE api_budget_tickets
               SET lease_until = greatest(o_wake, o_now + make_interval(secs => p_hold))
                                 + make_interval(secs => p_grace),
                   arrived_at = CASE WHEN waiting_since IS NULL THEN o_now ELSE arrived_at END,
                   waiting_since = coalesce(waiting_since, o_now),
                   turn_at = o_wake
             WHERE id = o_ticket;
        END IF;
        DELETE FROM api_budget_tickets WHERE budget_key = p_key AND lease_until <= o_now;
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
        op.execute(ADMIT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        versions = "courtflow.store.migrations.versions."
        op.execute(importlib.import_module(versions + "0002_budget").RESERVE_FUNCTION)
        op.execute(importlib.import_module(versions + "0005_budget_classes").ADMIT_FUNCTION)
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
