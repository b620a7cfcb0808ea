"""Tickets live on heartbeats: a queued waiter's lease no longer runs to its turn.

Revision ID: 0012_tickets
Revises: 0009_bookings
Create Date: 2026-12-07

``courtflow_admit()`` (0009_bookings) is replaced, same signature, by one whose queue
lease is ``now + hold + grace`` instead of ``max(turn, now + hold) + grace``. A waiter
renews its ticket by asking again (``Budget.reserve`` every ``HEARTBEAT`` seconds, the
Airflow trigger every poll), so a ticket whose owner died (SIGKILL, a lost host) stops
counting within ``hold + grace`` seconds, instead of holding back every later caller
until its expected turn, possibly minutes away; and a caller admitted after waiting
deletes the dead tickets. The new function is 0009's text with those two changes
(delimited below), so the frozen copy stays one.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0012_tickets"
down_revision: str | None = "0010_ranges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREVIOUS = importlib.import_module("courtflow.store.migrations.versions.0009_bookings")

# -- the 0012 changes, delimited ------------------------------------------------------------
# 1. The lease of a ticket taken or renewed by a refusal (insert and renewal: twice).
_LEASE_TO_TURN = "greatest(o_wake, o_now + make_interval(secs => p_hold))"
_LEASE_HEARTBEAT = "o_now + make_interval(secs => p_hold)"
# 2. A caller admitted after waiting drops the tickets nobody renewed (their owners are
#    gone), so the queue shows only live waiters; one probe of the key's few tickets.
_ADMITTED_END = "        o_wake := o_now;\n        RETURN NEXT;\n"
_ADMITTED_END_CLEAN = """        IF v_since IS NOT NULL THEN
            DELETE FROM api_budget_tickets WHERE budget_key = p_key AND lease_until <= o_now;
        END IF;
""" + _ADMITTED_END
# -- end of the 0012 changes ----------------------------------------------------------------


def _admit_function() -> str:
    text: str = _PREVIOUS.ADMIT_FUNCTION
    for old, new, times in (
        (_LEASE_TO_TURN, _LEASE_HEARTBEAT, 2),
        (_ADMITTED_END, _ADMITTED_END_CLEAN, 1),
    ):
        if text.count(old) != times:  # 0009 is frozen: this only fails while editing here
            raise RuntimeError(f"0012_tickets: anchor not found {times}x in 0009: {old!r}")
        text = text.replace(old, new)
    return text


ADMIT_FUNCTION = _admit_function()


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ADMIT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PREVIOUS.ADMIT_FUNCTION)
