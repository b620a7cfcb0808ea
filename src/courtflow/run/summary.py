"""The run summary every entry point ends with: what this run stored per resource (new,
changed and unchanged rows), each table's live rows beside it (labelled as a total: it
counts every run's rows, less those marked deleted), and what the budget did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, func, inspect, select

from courtflow.budget.tables import api_call_ledger
from courtflow.budget.usage_sync import not_usage_key
from courtflow.catalogue.resources import ResourceSpec
from courtflow.store import count_rows
from courtflow.store.tables import sync_checkpoints, sync_rejects

_ERRORS = ("http_error", "network", "bad_payload")


@dataclass(frozen=True)
class Stored:
    """What one run did to one resource's table."""

    new: int = 0  # rows inserted
    changed: int = 0  # rows replaced by a newer version
    unchanged: int = 0  # records read that the table already held as they are

    def plus(self, new: int, changed: int, unchanged: int) -> Stored:
        return Stored(self.new + new, self.changed + changed, self.unchanged + unchanged)

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "changed": self.changed, "unchanged": self.unchanged}


@dataclass(frozen=True)
class RunSummary:
    table_totals: dict[str, int]  # live rows in each table now, from every run
    api_calls: int
    throttled: int
    errors: int
    rejected: int = 0  # records of these runs set aside in sync_rejects
    stored: dict[str, Stored] = field(default_factory=dict)  # this run, per resource

    def as_json(self) -> str:
        return json.dumps(
            {
                "stored": {name: s.as_dict() for name, s in self.stored.items()},
                "table_totals": self.table_totals,
                "api_calls": self.api_calls,
                "throttled": self.throttled,
                "errors": self.errors,
                "rejected": self.rejected,
            },
            sort_keys=False,
        )

    def human(self) -> str:
        w = max([18, *(len(name) for name in self.table_totals)])
        lines = [f"  {'resource':<{w}} {'new':>8} {'changed':>8} {'unchanged':>9}   "
                 f"{'table total':>11}"]  # fmt: skip
        for name, total in self.table_totals.items():
            s = self.stored.get(name)
            done = (f"{s.new:>8} {s.changed:>8} {s.unchanged:>9}" if s is not None
                    else f"{'-':>8} {'-':>8} {'-':>9}")  # fmt: skip
            lines.append(f"  {name:<{w}} {done}   {total:>11}")
        lines.insert(0, "stored by this run (table total: live rows from every run):")
        lines.append(
            f"api calls: {self.api_calls}  throttled (429): {self.throttled}  errors: {self.errors}"
            f"  rejected records: {self.rejected}"
        )
        return "\n".join(lines)


def summarize(
    engine: Engine,
    specs: Sequence[ResourceSpec],
    *,
    run_ids: Iterable[str] | None = None,
    since: datetime | None = None,
    stored: Mapping[str, Stored] | None = None,
) -> RunSummary:
    """What the run stored beside the live rows now in each table; the quota's calls,
    429s and errors of the given runs (or since a time): ``api-usage/`` asks, which the
    server does not count, are left out.

    ``stored`` comes from the caller's sync results; without it, from the checkpoints
    of the windows these runs wrote (runs in other processes, such as Airflow tasks).
    """
    ledger = api_call_ledger
    query = select(
        func.count(),
        func.coalesce(func.sum(case((ledger.c.outcome == "throttled", 1), else_=0)), 0),
        func.coalesce(func.sum(case((ledger.c.outcome.in_(_ERRORS), 1), else_=0)), 0),
    ).where(
        ledger.c.outcome != "external",
        # api-usage/ calls are free of the quota and have a budget of their own.
        not_usage_key(ledger.c.budget_key),
    )
    ids = list(run_ids) if run_ids is not None else None
    if ids is not None:
        query = query.where(ledger.c.run_id.in_(ids))
    if since is not None:
        query = query.where(ledger.c.reserved_at >= since)
    with engine.connect() as conn:
        resources = {spec.name: count_rows(conn, spec, live=True) for spec in specs}
        row: Any = conn.execute(query).one()
        rejected = _rejected(conn, specs, ids, since)
        if stored is None:
            stored = _stored_by_windows(conn, specs, ids, since)
    return RunSummary(resources, int(row[0]), int(row[1]), int(row[2]), rejected,
                      dict(stored))  # fmt: skip


def _stored_by_windows(
    conn: Connection, specs: Sequence[ResourceSpec], ids: list[str] | None, since: datetime | None
) -> dict[str, Stored]:
    """New, changed and unchanged rows of the windows the given runs (or any run since
    a time) checkpointed last, per resource."""
    t = sync_checkpoints
    query = (
        select(t.c.resource, func.sum(t.c.new), func.sum(t.c.rows), func.sum(t.c.records),
               func.sum(t.c.rejected))
        .where(t.c.resource.in_([s.name for s in specs]))
        .group_by(t.c.resource)
    )
    if ids is not None:
        query = query.where(t.c.run_id.in_(ids))
    if since is not None:
        query = query.where(t.c.updated_at >= since)
    found = {}
    for resource, new, rows, records, rejected in conn.execute(query):
        new, rows = int(new or 0), int(rows or 0)
        found[resource] = Stored(new, rows - new, int(records or 0) - rows - int(rejected or 0))
    return {s.name: found[s.name] for s in specs if s.name in found}  # the caller's order


def _rejected(
    conn: Connection, specs: Sequence[ResourceSpec], ids: list[str] | None, since: datetime | None
) -> int:
    t = sync_rejects
    if not inspect(conn).has_table(t.name):
        return 0  # a database not yet migrated to 0006_rejects
    query = select(func.count()).select_from(t).where(t.c.resource.in_([s.name for s in specs]))
    if ids is not None:
        query = query.where(t.c.run_id.in_(ids))
    if since is not None:
        query = query.where(t.c.rejected_at >= since)
    return int(conn.execute(query).scalar_one())
