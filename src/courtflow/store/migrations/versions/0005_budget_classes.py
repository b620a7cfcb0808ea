"""Priority classes and the waiters' queue of the call budget.

Revision ID: 0005_budget_classes
Revises: 0004_catalogue
Create Date: 2026-11-30

Adds the class and the queue wait of each ledger row, the tickets of waiting callers
(``api_budget_tickets``) and, on PostgreSQL, ``courtflow_admit()``: the reservation of
``courtflow_reserve()`` plus the queue rule of courtflow/budget/classes.py in the same
round trip under the same lock. ``courtflow_reserve()`` is kept for older workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_budget_classes"
down_revision: str | None = "0004_catalogue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TEXT = sa.Text()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# 1130777719 is courtflow.budget.ledger.LOCK_CLASS; 1000 is classes.STARVED_BOOST.
# The rule is courtflow.budget.admission's (the SQLite path): keep the two in step.
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
                SELECT count(*) INTO v_count FROM api_call_ledger l
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
                SELECT greatest(l.reserved_at, l.reported_at - make_interval(secs => p_margin))
                  INTO v_slot FROM api_call_ledger l
                 WHERE l.budget_key = p_key AND l.seq = v_top - v_n + 1 + (o_ahead % v_n);
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
        batch.add_column(sa.Column("priority", TEXT, nullable=True))
        batch.add_column(sa.Column("queued_ms", sa.Float(), nullable=True))
    op.create_table(
        "api_budget_tickets",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("budget_key", TEXT, nullable=False),
        sa.Column("priority", TEXT, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("waiting_since", TS, nullable=True),
        sa.Column("turn_at", TS, nullable=True),
        sa.Column("lease_until", TS, nullable=False),
        sa.Column("run_id", TEXT, nullable=True),
        sa.Column("task_id", TEXT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_budget_tickets")),
    )
    op.create_index("ix_api_budget_tickets_budget_key", "api_budget_tickets", ["budget_key"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ADMIT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS courtflow_admit(text, integer[], double precision[], "
            "double precision, text, integer, text, text, text, text, boolean, boolean, "
            "text, integer, bigint, boolean, boolean, double precision, double precision, "
            "double precision, text[], double precision[], integer)"
        )
    op.drop_index("ix_api_budget_tickets_budget_key", table_name="api_budget_tickets")
    op.drop_table("api_budget_tickets")
    with op.batch_alter_table("api_call_ledger") as batch:
        batch.drop_column("queued_ms")
        batch.drop_column("priority")
