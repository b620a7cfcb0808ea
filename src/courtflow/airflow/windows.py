"""What window a DAG run syncs.

1. ``since``/``until`` in the run's conf (or operator arguments) win: explicit backfills.
2. Otherwise a non-empty data interval ``[data_interval_start, data_interval_end)``:
   scheduled runs of the interval timetable.
3. Otherwise (a manual run: Airflow 3 gives it an empty interval) catch up from the
   resource's watermark — or the DAG's start date on the very first run — to the
   run's logical date, or to now when the run has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from courtflow.window import Window, parse_instant


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_instant(str(value))


def resolve_window(
    context: Mapping[str, Any],
    *,
    watermark: datetime | None,
    default_start: datetime,
    since: Any = None,
    until: Any = None,
) -> Window:
    dag_run = context.get("dag_run")
    conf: Mapping[str, Any] = (getattr(dag_run, "conf", None) or {}) if dag_run else {}
    start = _aware(conf.get("since", since))
    end = _aware(conf.get("until", until))
    if start is not None or end is not None:
        return Window(start or watermark or default_start, end or datetime.now(UTC))
    interval_start = _aware(context.get("data_interval_start"))
    interval_end = _aware(context.get("data_interval_end"))
    if interval_start is not None and interval_end is not None and interval_start < interval_end:
        return Window(interval_start, interval_end)
    logical = _aware(context.get("logical_date"))
    start = watermark or default_start
    end = logical if logical is not None and logical > start else datetime.now(UTC)
    return Window(start, max(start, end))
