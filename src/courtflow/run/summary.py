"""The run summary every entry point ends with: rows per table and what the budget did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, func, inspect, select

from courtflow.budget.tables import api_call_ledger
from courtflow.budget.usage_sync import not_usage_key
from courtflow.catalogue.resources import ResourceSpec
from courtflow.store import count_rows
from courtflow.store.tables import sync_rejects

_ERRORS = ("http_error", "network", "bad_payload")


@dataclass(frozen=True)
class RunSummary:
    resources: dict[str, int]
    api_calls: int
    throttled: int
    errors: int
    rejected: int = 0  # records of these runs set aside in sync_rejects

    def as_json(self) -> str:
        return json.dumps(
            {
                "resources": self.resources,
                "api_calls": self.api_calls,
                "throttled": self.throttled,
                "errors": self.errors,
                "rejected": self.rejected,
            },
            sort_keys=False,
        )

    def human(self) -> str:
        lines = ["rows by resource:"]
        lines += [f"  {name:<18} {rows:>8}" for name, rows in self.resources.items()]
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
) -> RunSummary:
    """Rows now in each table; the quota's calls, 429s and errors of the given runs (or
    since a time): ``api-usage/`` asks, which the server does not count, are left out."""
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
        resources = {spec.name: count_rows(conn, spec) for spec in specs}
        row: Any = conn.execute(query).one()
        rejected = _rejected(conn, specs, ids, since)
    return RunSummary(resources, int(row[0]), int(row[1]), int(row[2]), rejected)


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
