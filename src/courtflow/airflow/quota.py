"""The figures of the quota view in the Airflow UI, read from the target database.

For each CourtListener connection: every sliding window of its budget (used, limit,
remaining, when room appears), any server block, the calls and 429s of the last hours,
calls by DAG and task, and how far each resource's (and scope's) watermark trails now.
The budget is identified by its key (a hash of the token): the token itself is never
part of a figure. Airflow-free: :mod:`courtflow.airflow.plugin` serves these figures
behind Airflow's authentication and adds what only Airflow knows (tasks waiting now).

    view = budget_figures("courtlistener_default", settings, hours=6, dag_ids={"cl"})
    html = render_html(QuotaView(generated_at=now, hours=6, budgets=(view,)))
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import Engine, inspect

from courtflow.config import Settings
from courtflow.observe.status import Lag, TaskCalls, calls_by_task, watermark_lags
from courtflow.redact import redact

DEFAULT_HOURS = 6


@dataclass(frozen=True)
class WindowFigures:
    rate: str
    used: int
    limit: int
    remaining: int
    room_at: datetime | None  # None: there is room now


@dataclass(frozen=True)
class HourFigures:
    hour: datetime
    calls: int
    throttled: int
    errors: int


@dataclass(frozen=True)
class BudgetFigures:
    """One connection's budget as the ledger sees it (no token, no database URL)."""

    conn_id: str
    budget_key: str | None = None
    windows: tuple[WindowFigures, ...] = ()
    blocked_until: datetime | None = None
    hours: tuple[HourFigures, ...] = ()
    by_task: tuple[TaskCalls, ...] = ()
    lags: tuple[Lag, ...] = ()
    error: str | None = None  # why the figures could not be read (redacted)


@dataclass(frozen=True)
class Waiting:
    """A task deferred on the budget right now (from Airflow's metadata)."""

    dag_id: str
    task_id: str
    run_id: str
    since: datetime | None


def with_waiting(
    per_hour: tuple[tuple[datetime, int], ...],
    waiting: tuple[Waiting, ...],
    since: datetime,
    now: datetime,
) -> tuple[tuple[datetime, int], ...]:
    """The deferrals per hour of ended tasks plus one for each task deferred right now,
    in the hour it deferred (the hour of ``now`` when that is unknown or before
    ``since``): every task listed as waiting is counted in some hour of the view."""
    hours: dict[datetime, int] = {}
    for hour, count in per_hour:
        hours[hour] = hours.get(hour, 0) + count
    for w in waiting:
        at = w.since if w.since is not None and w.since >= since else now
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        hours[hour] = hours.get(hour, 0) + 1
    return tuple(sorted(hours.items()))


@dataclass(frozen=True)
class QuotaView:
    generated_at: datetime
    hours: int
    budgets: tuple[BudgetFigures, ...]
    waiting: tuple[Waiting, ...] = ()
    # Budget deferrals of sync tasks that ended in each hour (from their results), plus
    # one for each task waiting now (plugin.collect_view, quota.with_waiting).
    deferrals_per_hour: tuple[tuple[datetime, int], ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def budget_figures(
    conn_id: str,
    settings: Settings,
    *,
    hours: int = DEFAULT_HOURS,
    dag_ids: Collection[str] | None = None,
    now: datetime | None = None,
) -> BudgetFigures:
    """The figures of one connection; a failure is reported in ``error``, never raised."""
    from courtflow.store.engine import make_engine

    try:
        engine = make_engine(settings.database_url)
        return _figures(conn_id, settings, engine, hours=hours, dag_ids=dag_ids, now=now)
    except Exception as exc:  # shown in the UI: no token, no database password
        message = redact(f"{type(exc).__name__}: {exc}", settings.token, settings.database_url)
        return BudgetFigures(conn_id=conn_id, error=message[:500])


def _figures(
    conn_id: str, settings: Settings, engine: Engine, *, hours: int,
    dag_ids: Collection[str] | None, now: datetime | None,
) -> BudgetFigures:  # fmt: skip
    from courtflow.budget import ledger
    from courtflow.budget.budget import Budget
    from courtflow.budget.tables import api_call_ledger
    from courtflow.observe.history import Filter, calls_per_hour

    if not inspect(engine).has_table(api_call_ledger.name):
        return BudgetFigures(conn_id=conn_id, error="no call ledger yet (no task has run)")
    budget = Budget.from_settings(settings, engine)
    with engine.connect() as conn:
        db_now, blocked, _ = ledger.read_state(conn, budget.key)
    current = now or _aware(db_now)
    since = current - timedelta(hours=hours)
    windows = tuple(
        WindowFigures(
            rate=w.rate, used=w.used, limit=w.limit, remaining=w.remaining,
            room_at=None if w.remaining > 0 else datetime.fromtimestamp(w.available_at, UTC),
        )
        for w in budget.usage()
    )
    where = Filter(budget_key=budget.key, since=since)
    per_hour = tuple(
        HourFigures(h.hour, h.calls, h.throttled, h.errors) for h in calls_per_hour(engine, where)
    )
    blocked_at = _aware(blocked) if blocked is not None else None
    return BudgetFigures(
        conn_id=conn_id,
        budget_key=budget.key,
        windows=windows,
        blocked_until=blocked_at if blocked_at is not None and blocked_at > current else None,
        hours=per_hour,
        by_task=calls_by_task(engine, budget.key, since, dag_ids),
        lags=watermark_lags(engine, current),
    )


def _aware(value: Any) -> datetime:
    from courtflow.observe.history import as_utc

    result = as_utc(value)
    assert result is not None
    return result


# -- HTML -------------------------------------------------------------------------------
_STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#1a1a1a}
h1{font-size:20px} h2{font-size:16px;margin-top:22px} h3{font-size:14px}
table{border-collapse:collapse;margin:6px 0 12px} td,th{border:1px solid #ccd;padding:4px 10px}
th{background:#eef2fb;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.full{background:#fde2e1} .muted{color:#666} .err{color:#a00}
"""


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "now"
    seconds = max(0.0, (value - now).total_seconds())
    return f"in {_duration(seconds)} ({value.strftime('%H:%M:%S')} UTC)"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str,
           numeric: Collection[int] = (), classes: Sequence[str] = ()) -> str:  # fmt: skip
    if not rows:
        return f"<p class='muted'>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f" class='{classes[i]}'" if i < len(classes) and classes[i] else ""
        cells = "".join(
            f"<td{' class=n' if j in numeric else ''}>{escape(c)}</td>" for j, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _budget_html(b: BudgetFigures, now: datetime, hours: int) -> str:
    key = f" &middot; budget {escape(b.budget_key)}" if b.budget_key else ""
    out = [f"<h2>Connection <code>{escape(b.conn_id)}</code>{key}</h2>"]
    if b.error:
        return out[0] + f"<p class='err'>{escape(b.error)}</p>"
    if b.blocked_until is not None:
        out.append(f"<p class='err'>Server block (429 Retry-After) until "
                   f"{escape(_when(b.blocked_until, now))}</p>")  # fmt: skip
    out.append(_table(
        ["window", "used", "limit", "remaining", "room"],
        [[w.rate, str(w.used), str(w.limit), str(w.remaining), _when(w.room_at, now)]
         for w in b.windows],
        "no window configured", numeric=(1, 2, 3),
        classes=["full" if w.remaining == 0 else "" for w in b.windows],
    ))  # fmt: skip
    out.append(f"<h3>Calls and 429s, last {hours} h (UTC hours)</h3>")
    out.append(_table(
        ["hour", "calls", "429s", "errors"],
        [[h.hour.strftime("%Y-%m-%d %H:00"), str(h.calls), str(h.throttled), str(h.errors)]
         for h in b.hours], "no calls in these hours", numeric=(1, 2, 3),
    ))  # fmt: skip
    out.append(f"<h3>Calls by DAG and task, last {hours} h</h3>")
    out.append(_table(
        ["DAG", "task", "calls", "429s", "last call"],
        [[t.dag_id, t.task_id, str(t.calls), str(t.throttled),
          t.last.strftime("%Y-%m-%d %H:%M:%S") if t.last else "-"] for t in b.by_task],
        "no calls by DAGs you may read", numeric=(2, 3),
    ))  # fmt: skip
    out.append("<h3>Watermark lag</h3>")
    out.append(_table(
        ["resource", "scope", "loaded up to (UTC)", "lag"],
        [[lag.resource, lag.scope or "(whole resource)",
          lag.watermark.strftime("%Y-%m-%d %H:%M:%S"), _duration(lag.lag_seconds)]
         for lag in b.lags], "no watermark yet",
    ))  # fmt: skip
    return "".join(out)


def render_html(view: QuotaView, *, refresh_seconds: int = 30) -> str:
    """The quota view as one self-contained page (escaped; refreshes itself)."""
    now = view.generated_at
    waits = _table(
        ["DAG", "task", "run", "waiting since"],
        [[w.dag_id, w.task_id, w.run_id,
          w.since.strftime("%Y-%m-%d %H:%M:%S") if w.since else "-"] for w in view.waiting],
        "no task is waiting for the budget",
    )  # fmt: skip
    deferrals = _table(
        ["hour", "budget deferrals"],
        [[h.strftime("%Y-%m-%d %H:00"), str(n)] for h, n in view.deferrals_per_hour],
        "no sync task deferred for the budget in these hours", numeric=(1,),
    )  # fmt: skip
    budgets = "".join(_budget_html(b, now, view.hours) for b in view.budgets)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{int(refresh_seconds)}'>"
        f"<title>CourtListener quota</title><style>{_STYLE}</style></head><body>"
        f"<h1>CourtListener quota</h1><p class='muted'>as of "
        f"{now.strftime('%Y-%m-%d %H:%M:%S')} UTC (database clock); last {view.hours} h</p>"
        f"{budgets}<h2>Budget waits</h2><h3>Waiting now</h3>{waits}"
        f"<h3>Deferrals per hour, last {view.hours} h</h3>{deferrals}</body></html>"
    )
