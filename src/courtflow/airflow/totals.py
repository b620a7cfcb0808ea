"""What a sync task did in all: its result (XCom) and its Asset event's ``extra``.

A task that defers runs in stretches: ``execute``, then ``execute_complete`` after each
deferral, each in a fresh operator instance; a retry starts over in ``execute``. The
totals must cover the whole task, so

- pages and rows travel from stretch to stretch in the trigger's payload (the
  deferral's ``next_kwargs``), and a retry starts from what the earlier tries of the
  same run stored in the window's checkpoint;
- calls are read from the ledger, which stamps every reserved attempt (failed ones,
  429s and retries included) with the DAG, run and task ids.

    totals = TaskTotals.from_payload(event.get("totals"))
    totals = totals.plus(pages=1, rows=20)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from courtflow.catalogue.window import Window


@dataclass(frozen=True)
class TaskTotals:
    """Pages and rows stored so far by one task, over every stretch and try."""

    pages: int = 0
    rows: int = 0  # rows written: new + changed
    rejected: int = 0  # rows the core refused (reported when it counts them)
    new: int = 0  # rows the table did not hold before
    changed: int = 0  # rows replaced by a newer version
    unchanged: int = 0  # records read that the table already held as they are

    def plus(self, *, pages: int = 0, rows: int = 0, rejected: int = 0, new: int = 0,
             changed: int = 0, unchanged: int = 0) -> TaskTotals:  # fmt: skip
        return TaskTotals(
            self.pages + pages, self.rows + rows, self.rejected + rejected, self.new + new,
            self.changed + changed, self.unchanged + unchanged,
        )  # fmt: skip

    def as_payload(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_payload(cls, value: Any) -> TaskTotals:
        if not isinstance(value, Mapping):
            return cls()
        return cls(**{f.name: int(value.get(f.name, 0)) for f in fields(cls)})


def earlier_tries(
    engine: Engine, resource: str, scope: str, window: Window, run_id: str
) -> TaskTotals:
    """What earlier tries of this run stored, from the window's checkpoint.

    The checkpoint names the run that wrote it last: another run's checkpoint (a window
    loaded before) is not this task's work.
    """
    from sqlalchemy import select

    from courtflow.store.tables import sync_checkpoints as t

    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.pages, t.c.rows, t.c.run_id, t.c.records, t.c.rejected, t.c.new).where(
                t.c.resource == resource, t.c.scope == scope,
                t.c.window_start == window.start, t.c.window_end == window.end,
            )
        ).first()
    if row is None or row.run_id != run_id:
        return TaskTotals()
    rows, new = int(row.rows), int(row.new)
    return TaskTotals(
        pages=int(row.pages), rows=rows, rejected=int(row.rejected), new=new,
        changed=rows - new, unchanged=int(row.records) - rows - int(row.rejected),
    )  # fmt: skip


def task_calls(engine: Engine, *, dag_id: str, run_id: str, task_id: str) -> int:
    """Every call the ledger holds for this task: all stretches, tries and outcomes."""
    from sqlalchemy import func, select

    from courtflow.budget.tables import api_call_ledger as ledger

    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(
                ledger.c.dag_id == dag_id, ledger.c.run_id == run_id,
                ledger.c.task_id == task_id,
            )
        ).scalar_one()
    return int(count)


def task_result(
    *,
    resource: str,
    scope: str,
    window: Window,
    totals: TaskTotals,
    calls: int,
    deferrals: int,
    try_number: int,
    resumed: bool,
    skipped: bool,
) -> dict[str, Any]:
    """The task's XCom and its Asset event's ``extra``: plain JSON, never a secret."""
    return {
        "resource": resource,
        "scope": scope,
        "window": str(window),
        "since": window.start.isoformat(),
        "until": window.end.isoformat(),
        "pages": totals.pages,
        "rows": totals.rows,
        "rejected": totals.rejected,
        "new": totals.new,
        "changed": totals.changed,
        "unchanged": totals.unchanged,
        "calls": calls,
        "deferrals": deferrals,
        "try_number": try_number,
        "resumed": resumed,
        "skipped": skipped,
    }
