"""Bookings: room a higher class expects to need at a known moment.

Revision ID: 0009_bookings
Revises: 0006_rejects
Create Date: 2026-11-30

- ``api_budget_bookings``: one row per booking (class, due time, calls still needed,
  lease).
- ``courtflow_admit()`` (0008_usage) is replaced, same signature, by one that also
  keeps booked room: a lower class is not admitted when its call would still be in a
  window at the due time and leave that window fewer free slots than the booking
  needs; an admission of the booked class takes one call off the earliest booking due.
  The new function is 0008's text with four additions, so the frozen copy stays one.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_bookings"
down_revision: str | None = "0006_rejects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
_PREVIOUS = importlib.import_module("courtflow.store.migrations.versions.0008_usage")

_DECLARE = "    v_target bigint;\nBEGIN\n"
_DECLARE_MORE = """    v_target bigint;
    v_bk record;
    v_ref timestamptz;
    v_k integer;
    v_held boolean := false;
    v_bwake timestamptz;
    v_burst integer;
    v_booked boolean := false;
BEGIN
"""

_BEFORE_ADMIT = "    IF v_room AND o_ahead = 0 AND NOT p_peek THEN\n"
# A call of a lower class made now still counts in window i at the booking's due time
# when now + window > due. Then it may go only if, at max(due, now), window i keeps the
# booking's first burst free: min(need, the smallest limit), what the booked run takes at
# once; its later calls come as calls leave the windows, first in line by class. So the
# k+1-th newest call (k = limit - burst - 1) must have left the window by then;
# otherwise the caller waits until it has.
_HOLD = """    -- Bookings of higher classes keep their room (0009_bookings).
    IF v_room AND o_ahead = 0 THEN
        -- One probe when the key has no booking (the usual case): nothing more to do.
        SELECT EXISTS (SELECT 1 FROM api_budget_bookings b WHERE b.budget_key = p_key)
          INTO v_booked;
    END IF;
    IF v_booked THEN
        FOR v_bk IN SELECT b.due_at, b.need, b.lease_until FROM api_budget_bookings b
                     WHERE b.budget_key = p_key AND b.rank > p_rank AND b.need > 0
                       AND b.lease_until > o_now LOOP
            IF v_burst IS NULL THEN
                SELECT min(x) INTO v_burst FROM unnest(p_limits) AS x WHERE x > 0;
            END IF;
            v_ref := greatest(v_bk.due_at, o_now);
            FOR i IN 1 .. coalesce(array_length(p_limits, 1), 0) LOOP
                CONTINUE WHEN p_limits[i] <= 0
                    OR o_now + make_interval(secs => p_windows[i]) <= v_bk.due_at;
                v_k := p_limits[i] - least(v_bk.need, v_burst) - 1;
                IF v_k < 0 THEN
                    v_held := true;
                    v_bwake := greatest(v_bwake, least(v_bk.lease_until,
                                        v_ref + make_interval(secs => p_windows[i])));
                ELSIF v_top IS NOT NULL THEN
                    v_target := v_top - v_k;
                    v_seq := NULL;
                    SELECT l.seq, l.weight,
                           greatest(l.reserved_at, l.reported_at - make_interval(secs => p_margin))
                      INTO v_seq, v_weight, v_blocker FROM api_call_ledger l
                     WHERE l.budget_key = p_key AND l.seq >= v_target ORDER BY l.seq LIMIT 1;
                    IF v_seq IS NOT NULL AND v_seq - v_weight < v_target
                       AND v_blocker + make_interval(secs => p_windows[i]) > v_ref THEN
                        v_held := true;
                        v_bwake := greatest(v_bwake,
                                            v_blocker + make_interval(secs => p_windows[i]));
                    END IF;
                END IF;
            END LOOP;
        END LOOP;
        IF v_held THEN
            v_room := false;
        END IF;
    END IF;
"""

_ADMITTED = "        RETURNING id INTO o_call_id;\n"
_CONSUME = """        RETURNING id INTO o_call_id;
        -- An admission of a booked class uses its earliest booking due (from a minute early).
        IF v_booked THEN
            UPDATE api_budget_bookings SET need = need - 1
             WHERE id = (SELECT b.id FROM api_budget_bookings b
                          WHERE b.budget_key = p_key AND b.priority = p_priority AND b.need > 0
                            AND b.lease_until > o_now
                            AND b.due_at <= o_now + make_interval(secs => 60)
                          ORDER BY b.due_at, b.id LIMIT 1);
        END IF;
"""

_WAKE = "        IF o_blocked_until > o_wake THEN\n"
_WAKE_HELD = "        o_wake := greatest(o_wake, v_bwake);\n" + _WAKE

_CLEANUP = (
    "        DELETE FROM api_budget_tickets WHERE budget_key = p_key AND lease_until <= o_now;\n"
)
_CLEANUP_MORE = (
    _CLEANUP
    + "        DELETE FROM api_budget_bookings WHERE budget_key = p_key\n"
    + "           AND (lease_until <= o_now OR need <= 0);\n"
)


def _admit_function() -> str:
    text: str = _PREVIOUS.ADMIT_FUNCTION
    for old, new in (
        (_DECLARE, _DECLARE_MORE),
        (_BEFORE_ADMIT, _HOLD + _BEFORE_ADMIT),
        (_ADMITTED, _CONSUME),
        (_WAKE, _WAKE_HELD),
        (_CLEANUP, _CLEANUP_MORE),
    ):
        if text.count(old) != 1:  # 0008 is frozen: this only fails while editing here
            raise RuntimeError(f"0009_bookings: anchor not found once in 0008: {old!r}")
        text = text.replace(old, new)
    return text


ADMIT_FUNCTION = _admit_function()


def upgrade() -> None:
    op.create_table(
        "api_budget_bookings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("budget_key", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("need", sa.Integer(), nullable=False),
        sa.Column("lease_until", TS, nullable=False),
        sa.Column("booked_at", TS, nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("task_id", sa.Text(), nullable=True),
        sa.Column("dag_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_budget_bookings")),
    )
    op.create_index("ix_api_budget_bookings_budget_key", "api_budget_bookings", ["budget_key"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ADMIT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PREVIOUS.ADMIT_FUNCTION)
    op.drop_index("ix_api_budget_bookings_budget_key", table_name="api_budget_bookings")
    op.drop_table("api_budget_bookings")
