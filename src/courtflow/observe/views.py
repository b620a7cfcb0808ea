"""PostgreSQL views over the ledger for downstream users (Grafana's SQL datasource, psql).

The SQL ships as ``sql/views.sql`` so it can be applied without Python as well::

    python -c 'from courtflow.observe import views; print(views.VIEWS_SQL)'  # the file
    psql "$DATABASE_URL" -f <that file>
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from sqlalchemy import Engine

from courtflow.errors import ConfigError

VIEWS_SQL: Final = Path(__file__).resolve().parent / "sql" / "views.sql"
VIEW_NAMES: Final[tuple[str, ...]] = (
    "courtflow_calls_per_hour",
    "courtflow_latency_per_hour",
    "courtflow_errors_per_hour",
    "courtflow_runs",
    "courtflow_watermark_lag",
)
_COMMENT = re.compile(r"--[^\n]*")


def view_statements() -> list[str]:
    """The ``CREATE OR REPLACE VIEW`` statements of ``sql/views.sql``, in order."""
    body = _COMMENT.sub("", VIEWS_SQL.read_text(encoding="utf-8"))
    return [s.strip() for s in body.split(";") if s.strip()]


def create_views(engine: Engine) -> tuple[str, ...]:
    """Create (or replace) the views in one transaction; PostgreSQL only.

    The ledger and store tables must exist (run ``courtflow.store.migrate.upgrade``).
    """
    if engine.dialect.name != "postgresql":
        raise ConfigError(
            f"courtflow's SQL views are for PostgreSQL; this database is {engine.dialect.name} "
            "(the report and courtflow.observe.history work on it directly)"
        )
    with engine.begin() as conn:
        for statement in view_statements():
            conn.exec_driver_sql(statement)
    return VIEW_NAMES
