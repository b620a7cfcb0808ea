"""courtflow_admit() takes the database clock as an optional last argument.

Revision ID: 0014_admit_now
Revises: 0013_search
Create Date: 2026-12-07

- ``courtflow_admit(..., p_now timestamptz DEFAULT NULL)``: NULL (what production
  always passes) reads ``clock_timestamp()`` as before; a time given is used instead,
  so a test can replay a schedule on a clock of its own and compare every decision
  with the reference model (``courtflow.budget.model``, issue #27).
- The function is the previous revision's text with exactly two edits (the parameter,
  and ``o_now := coalesce(p_now, clock_timestamp())``); the previous revision is
  found by walking ``down_revision`` to the newest migration that defines
  ``ADMIT_FUNCTION``, so a change made there (whatever the chain's order) is carried.
- SQLite: ``api_budget_tickets`` and ``api_budget_bookings`` are rebuilt with
  ``AUTOINCREMENT``: without it SQLite hands the id of a deleted newest row to the next
  one, so a waiter whose ticket lapsed came back as a newcomer's ticket (and a stale
  booking id cancelled another's booking). Found by the model test; PostgreSQL's
  sequences never reuse ids.
- A different argument list is a new overload to PostgreSQL, and a call leaving the
  default out would be ambiguous between the two: every overload is dropped first.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

from alembic import op

revision: str = "0014_admit_now"
down_revision: str | None = "0013_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERSIONS = "courtflow.store.migrations.versions."


def _previous_admit() -> ModuleType:
    """The newest earlier migration defining ``ADMIT_FUNCTION`` (frozen text)."""
    name = down_revision
    while name is not None:
        module = importlib.import_module(_VERSIONS + name)
        if hasattr(module, "ADMIT_FUNCTION"):
            return module
        name = module.down_revision
    raise RuntimeError("0014_admit_now: no earlier migration defines courtflow_admit()")


_PREVIOUS = _previous_admit()

# --- the two edits (all of this migration's change to the function) ---
_PARAMS_END = "\n) RETURNS TABLE ("
_PARAMS_END_NOW = ",\n    p_now timestamptz DEFAULT NULL" + _PARAMS_END
_CLOCK = "    o_now := clock_timestamp();\n"
_CLOCK_NOW = "    o_now := coalesce(p_now, clock_timestamp());  -- p_now: tests only (0014)\n"
# --- end of the edits ---

# Every overload of courtflow_admit(), whatever its argument list.
DROP_ADMIT = """
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proname = 'courtflow_admit' AND n.nspname = current_schema() LOOP
        EXECUTE 'DROP FUNCTION ' || f;
    END LOOP;
END
$$
"""


def _admit_function() -> str:
    text: str = _PREVIOUS.ADMIT_FUNCTION
    for old, new in ((_PARAMS_END, _PARAMS_END_NOW), (_CLOCK, _CLOCK_NOW)):
        if text.count(old) != 1:  # earlier migrations are frozen: fails only while editing
            raise RuntimeError(f"0014_admit_now: anchor not found once: {old!r}")
        text = text.replace(old, new)
    return text


ADMIT_FUNCTION = _admit_function()


_NEVER_REUSED = ("api_budget_tickets", "api_budget_bookings")


def _rebuild(autoincrement: bool) -> None:
    for table in _NEVER_REUSED:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_ADMIT)
        op.execute(ADMIT_FUNCTION)
    else:
        _rebuild(True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_ADMIT)
        op.execute(_PREVIOUS.ADMIT_FUNCTION)
    else:
        _rebuild(False)
