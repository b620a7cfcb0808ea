"""The run summary every entry point ends with: rows per table and what the budget did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, select

from courtflow.budget.tables import api_call_ledger
from courtflow.resources import ResourceSpec
from courtflow.store import count_rows

_ERRORS = ("http_error", "network", "bad_payload")


@dataclass(frozen=True)
class RunSummary:
    resources: dict[str, int]
    api_calls: int
    throttled: int
    errors: int

    def as_json(self) -> str:
        return json.dumps(
            {
                "resources": self.resources,
                "api_calls": self.api_calls,
                "throttled": self.throttled,
                "errors": self.errors,
            },
            sort_keys=False,
        )

    def human(self) -> str:
        lines = ["rows by resource:"]
        lines += [f"  {name:<18} {rows:>8}" for name, rows in self.resources.items()]
        lines.append(
            f"api calls: {self.api_calls}  throttled (429): {self.throttled}  errors: {self.errors}"
        )
        return "\n".join(lines)


def summarize(
    engine: Engine,
    specs: Sequence[ResourceSpec],
    *,
    run_ids: Iterable[str] | None = None,
    since: datetime | None = None,
) -> RunSummary:
    """Rows now in each table; calls, 429s and errors of the given runs (or since a time)."""
    ledger = api_call_ledger
    query = select(
        func.count(),
        func.coalesce(func.sum(case((ledger.c.outcome == "throttled", 1), else_=0)), 0),
        func.coalesce(func.sum(case((ledger.c.outcome.in_(_ERRORS), 1), else_=0)), 0),
    ).where(ledger.c.outcome != "external")
    ids = list(run_ids) if run_ids is not None else None
    if ids is not None:
        query = query.where(ledger.c.run_id.in_(ids))
    if since is not None:
        query = query.where(ledger.c.reserved_at >= since)
    with engine.connect() as conn:
        resources = {spec.name: count_rows(conn, spec) for spec in specs}
        row: Any = conn.execute(query).one()
    return RunSummary(resources, int(row[0]), int(row[1]), int(row[2]))
