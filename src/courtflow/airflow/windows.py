"""What window ``[start, end)`` a DAG run syncs.

1. ``since``/``until`` in the run's conf (or operator arguments) win: explicit
   backfills of any range; a missing bound is the watermark (start) or now (end).
2. A scheduled or backfill run of the interval timetable: its data interval, started
   at the watermark instead when that lies at most ``lookback`` before the interval
   (the previous run stopped short of its end by the settle lag: read that tail now).
3. Anything else — a manual run, an asset-triggered run, or an empty interval (a
   trigger timetable) — catches up: from ``lookback`` before the resource's watermark
   (the DAG's start date on the very first run) to the run's data interval end, else
   its logical date, else now; a run dated at or before the watermark gets an empty
   window.

The operator then clamps the end to the server's clock less the settle lag
(courtflow.catalogue.window.clamp): a window wholly after it syncs nothing.

Airflow 3 gives manual runs of an interval timetable the interval that ends when they
are triggered; taking it blindly would leave a gap whenever the DAG was paused, so a
manual run catches up instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from courtflow.catalogue.window import Window, parse_instant

_INTERVAL_RUN_TYPES = frozenset({"scheduled", "backfill"})


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_instant(str(value))


def _run_type(dag_run: Any) -> str | None:
    run_type = getattr(dag_run, "run_type", None)
    if run_type is None:
        return None
    return str(getattr(run_type, "value", run_type)).lower()


def resolve_window(
    context: Mapping[str, Any],
    *,
    watermark: datetime | None,
    default_start: datetime,
    since: Any = None,
    until: Any = None,
    now: datetime | None = None,
    lookback: timedelta = timedelta(0),
) -> Window:
    """The window of this run (see the module docstring for the rules)."""
    now = now or datetime.now(UTC)
    dag_run = context.get("dag_run")
    conf: Mapping[str, Any] = (getattr(dag_run, "conf", None) or {}) if dag_run else {}
    start = _aware(conf.get("since") or since)
    end = _aware(conf.get("until") or until)
    if start is not None or end is not None:
        return Window(start or watermark or default_start, end or now)
    interval_start = _aware(context.get("data_interval_start"))
    interval_end = _aware(context.get("data_interval_end"))
    has_interval = (
        interval_start is not None and interval_end is not None and interval_start < interval_end
    )
    run_type = _run_type(dag_run)
    if has_interval and (run_type is None or run_type in _INTERVAL_RUN_TYPES):
        assert interval_start is not None and interval_end is not None
        if watermark is not None and interval_start - lookback <= watermark < interval_start:
            return Window(watermark, interval_end)
        return Window(interval_start, interval_end)
    known = [c for c in (interval_end, _aware(context.get("logical_date"))) if c is not None]
    end = known[0] if known else now
    if watermark is None:
        return Window(default_start, max(default_start, end))
    if end <= watermark:
        # A run dated at or before the watermark has nothing new: an empty window.
        return Window(watermark, watermark)
    return Window(watermark - lookback, end)


def run_priority(dag_run: Any) -> str:
    """The budget class of a run's calls: ``backfill`` for backfill runs, else ``incremental``."""
    from courtflow.budget.priorities import BACKFILL, INCREMENTAL

    return BACKFILL if _run_type(dag_run) == "backfill" else INCREMENTAL


def next_run_due(context: Mapping[str, Any]) -> datetime | None:
    """When the next scheduled run of an interval timetable starts: this interval's end
    plus its length. None for any other run (manual, backfill, asset, empty interval)."""
    if _run_type(context.get("dag_run")) != "scheduled":
        return None
    start = _aware(context.get("data_interval_start"))
    end = _aware(context.get("data_interval_end"))
    if start is None or end is None or start >= end:
        return None
    return end + (end - start)
