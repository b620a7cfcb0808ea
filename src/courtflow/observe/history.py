"""The call ledger as history: what the budget did, hour by hour and window by window.

SQLAlchemy Core queries that run on SQLite and PostgreSQL. Aggregates that both
dialects express the same way stay in SQL; percentiles use ``percentile_cont`` on
PostgreSQL and the identical interpolation in Python on SQLite.

    span = ledger_span(engine)
    hours = calls_per_hour(engine, since=span.first, until=span.last)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    inspect,
    literal_column,
    or_,
    select,
)

from courtflow.budget.rates import Rate
from courtflow.budget.tables import EXTERNAL, RESERVED, api_call_ledger
from courtflow.observe.calc import peak_window, percentile_cont, sample_times, window_counts
from courtflow.observe.metrics import MetricsSink, record_watermark, watermark_lag_seconds
from courtflow.store.tables import RESOURCE_TABLES, sync_checkpoints, sync_watermarks

L = api_call_ledger.c
PERCENTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
S = TypeVar("S", bound=Select[*tuple[Any, ...]])

# Row classes, shared by every query (and by sql/views.sql, which must agree).
IS_OURS = or_(L.outcome.is_(None), L.outcome != EXTERNAL)
IS_EXTERNAL = L.outcome == EXTERNAL
IS_THROTTLED = or_(L.status == 429, L.outcome == "throttled")
IS_ERROR = L.outcome.not_in(["ok", RESERVED, EXTERNAL])
IS_RETRY = L.attempt > 1
IS_TIMED = and_(L.duration_ms.is_not(None), L.outcome.not_in([RESERVED, EXTERNAL]))


@dataclass(frozen=True)
class Filter:
    """Which ledger rows a query looks at: one budget key (or all), and a time range."""

    budget_key: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, stmt: S) -> S:
        if self.budget_key is not None:
            stmt = stmt.where(L.budget_key == self.budget_key)
        if self.since is not None:
            stmt = stmt.where(L.reserved_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(L.reserved_at <= self.until)
        return stmt


@dataclass(frozen=True)
class Summary:
    calls: int  # our attempts (reserved, ok or failed), not 'external'
    external: int
    throttled: int
    errors: int
    retries: int
    in_flight: int  # still 'reserved': in flight, or a worker died before reporting
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class HourCount:
    hour: datetime
    calls: int
    external: int
    throttled: int
    retries: int
    errors: int


@dataclass(frozen=True)
class WindowSeries:
    """The sliding-window count of one rate sampled over time, and its exact peak."""

    rate: Rate
    points: tuple[tuple[datetime, int], ...]
    peak: int
    peak_at: datetime | None


@dataclass(frozen=True)
class Latency:
    hour: datetime | None  # None for the whole period
    count: int
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class ResourceRows:
    resource: str
    rows: int
    last_loaded: datetime | None


@dataclass(frozen=True)
class WatermarkLag:
    resource: str
    watermark: datetime
    lag_seconds: float
    updated_at: datetime | None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    dag_id: str | None
    first: datetime
    last: datetime
    calls: int
    throttled: int
    errors: int
    retries: int
    tasks: int
    rows: int | None  # rows recorded in the checkpoints this run last touched


def as_utc(value: datetime | str | None) -> datetime | None:
    """Normalise what drivers return (aware, naive-UTC, or SQLite text) to aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: datetime | str) -> datetime:
    result = as_utc(value)
    assert result is not None
    return result


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _calls(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Calls, not rows: a row of usage made elsewhere weighs its count."""
    return func.coalesce(func.sum(case((condition, L.weight), else_=0)), 0)


def hour_bucket(engine: Engine) -> ColumnElement[Any]:
    """The UTC hour of ``reserved_at``, whatever the session time zone."""
    if engine.dialect.name == "postgresql":
        # date_trunc on timestamptz truncates in the session zone (wrong for +05:30);
        # converting to UTC wall time first makes the buckets UTC hours everywhere.
        utc = func.timezone(literal_column("'UTC'"), L.reserved_at)
        return func.date_trunc(literal_column("'hour'"), utc)
    # Whole seconds only: SQLite rounds to milliseconds (23:59:59.9996 would be midnight).
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), func.substr(L.reserved_at, 1, 19))


def time_bucket(engine: Engine, seconds: int) -> ColumnElement[Any]:
    """The start of the ``seconds``-long UTC bucket of ``reserved_at`` (epoch-aligned)."""
    if seconds == 3600:
        return hour_bucket(engine)
    if engine.dialect.name == "postgresql":
        epoch = extract("epoch", L.reserved_at)
        return func.to_timestamp(func.floor(epoch / seconds) * seconds)
    # SQLite keeps time in milliseconds and would round 12:46:39.9995 up to :40; the
    # stored text's first 19 characters are the whole seconds.
    whole = func.substr(L.reserved_at, 1, 19)
    epoch_int = cast(func.strftime(literal_column("'%s'"), whole), Integer)
    return func.datetime((epoch_int // seconds) * seconds, literal_column("'unixepoch'"))


def ledger_span(
    engine: Engine, where: Filter = Filter()
) -> tuple[datetime | None, datetime | None]:
    """The first and last ``reserved_at`` among the filtered rows."""
    stmt = where.apply(select(func.min(L.reserved_at), func.max(L.reserved_at)))
    with engine.connect() as conn:
        first, last = conn.execute(stmt).one()
    return as_utc(first), as_utc(last)


def summary(engine: Engine, where: Filter = Filter()) -> Summary:
    stmt = where.apply(
        select(
            _count(IS_OURS), _calls(IS_EXTERNAL), _count(IS_THROTTLED), _count(IS_ERROR),
            _count(IS_RETRY), _count(L.outcome == RESERVED),
            func.min(L.reserved_at), func.max(L.reserved_at),
        )
    )  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(stmt).one()
    return Summary(
        calls=int(row[0]), external=int(row[1]), throttled=int(row[2]), errors=int(row[3]),
        retries=int(row[4]), in_flight=int(row[5]), first=as_utc(row[6]), last=as_utc(row[7]),
    )  # fmt: skip


def calls_per_hour(
    engine: Engine, where: Filter = Filter(), *, bucket_seconds: int = 3600
) -> list[HourCount]:
    """Calls, external usage, 429s, retries and errors per UTC hour (hours with calls), or
    per bucket of ``bucket_seconds`` (``hour`` is then the bucket's start)."""
    bucket = time_bucket(engine, bucket_seconds).label("hour")
    stmt = where.apply(
        select(
            bucket, _count(IS_OURS), _calls(IS_EXTERNAL), _count(IS_THROTTLED),
            _count(IS_RETRY), _count(IS_ERROR),
        )
    ).group_by(bucket).order_by(bucket)  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        HourCount(
            hour=_utc(r[0]), calls=int(r[1]), external=int(r[2]), throttled=int(r[3]),
            retries=int(r[4]), errors=int(r[5]),
        )
        for r in rows
    ]


def reserved_times(engine: Engine, where: Filter = Filter()) -> list[float]:
    """Epoch seconds of every filtered reservation (ours and external), ascending."""
    stmt = where.apply(select(L.reserved_at, L.weight)).order_by(L.reserved_at)
    with engine.connect() as conn:
        return [_utc(r[0]).timestamp() for r in conn.execute(stmt) for _ in range(r[1])]


def window_series(
    engine: Engine,
    rates: Sequence[Rate],
    where: Filter = Filter(),
    *,
    points: int = 240,
) -> list[WindowSeries]:
    """For each rate: the count in its sliding window at ``points`` instants, and the peak.

    Rows from up to one period before ``where.since`` are read too, so the first
    samples count the calls that were still inside their windows.
    """
    first, last = ledger_span(engine, where)
    if first is None or last is None or not rates:
        return [WindowSeries(rate=r, points=(), peak=0, peak_at=None) for r in rates]
    start = where.since or first
    end = where.until or last
    lookback = max(r.period for r in rates)
    wide = Filter(where.budget_key, start - timedelta(seconds=lookback), end)
    stamps = reserved_times(engine, wide)
    grid = sample_times(start.timestamp(), end.timestamp(), points)
    result = []
    for rate in rates:
        counts = window_counts(stamps, rate.period, grid)
        peak, peak_at = peak_window(stamps, rate.period, since=start.timestamp())
        result.append(
            WindowSeries(
                rate=rate,
                points=tuple(
                    (datetime.fromtimestamp(t, UTC), c) for t, c in zip(grid, counts, strict=True)
                ),
                peak=peak,
                peak_at=datetime.fromtimestamp(peak_at, UTC) if peak_at is not None else None,
            )
        )
    return result


def latency(
    engine: Engine, where: Filter = Filter(), *, by_hour: bool = True, bucket_seconds: int = 3600
) -> list[Latency]:
    """p50/p95/p99 of ``duration_ms`` of reported attempts, per UTC hour (or bucket of
    ``bucket_seconds``) or overall."""
    if engine.dialect.name == "postgresql":
        return _latency_sql(engine, where, by_hour, bucket_seconds)
    return _latency_python(engine, where, by_hour, bucket_seconds)


def _latency_sql(engine: Engine, where: Filter, by_hour: bool, seconds: int) -> list[Latency]:
    pcts = [func.percentile_cont(q).within_group(L.duration_ms) for q in PERCENTILES]
    bucket = time_bucket(engine, seconds).label("hour")
    cols: list[Any] = [func.count(), *pcts]
    stmt = where.apply(select(*([bucket] if by_hour else []), *cols).where(IS_TIMED))
    if by_hour:
        stmt = stmt.group_by(bucket).order_by(bucket)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        hour, rest = (_utc(r[0]), r[1:]) if by_hour else (None, r)
        if int(rest[0]):
            out.append(Latency(hour, int(rest[0]), float(rest[1]), float(rest[2]), float(rest[3])))
    return out


def _latency_python(engine: Engine, where: Filter, by_hour: bool, seconds: int) -> list[Latency]:
    bucket = time_bucket(engine, seconds).label("hour")
    stmt = where.apply(select(bucket, L.duration_ms).where(IS_TIMED))
    groups: dict[datetime | None, list[float]] = defaultdict(list)
    with engine.connect() as conn:
        for hour, ms in conn.execute(stmt):
            groups[_utc(hour) if by_hour else None].append(float(ms))
    out = []
    for key in sorted(groups, key=lambda h: h or datetime.min.replace(tzinfo=UTC)):
        values = sorted(groups[key])
        p50, p95, p99 = (percentile_cont(values, q) for q in PERCENTILES)
        out.append(Latency(key, len(values), p50, p95, p99))
    return out


def rows_per_resource(engine: Engine) -> list[ResourceRows]:
    """Rows stored per resource table (tables not created yet are left out)."""
    existing = set(inspect(engine).get_table_names())
    out = []
    with engine.connect() as conn:
        for name, table in RESOURCE_TABLES.items():
            if table.name not in existing:
                continue
            count, loaded = conn.execute(
                select(func.count(), func.max(table.c.loaded_at))
            ).one()
            out.append(ResourceRows(name, int(count), as_utc(loaded)))
    return out


def watermark_lags(engine: Engine, now: datetime | None = None) -> list[WatermarkLag]:
    """How far each resource's watermark trails ``now`` (default: the current time)."""
    current = now or datetime.now(UTC)
    if not inspect(engine).has_table(sync_watermarks.name):
        return []
    stmt = select(sync_watermarks.c.resource, sync_watermarks.c.watermark,
                  sync_watermarks.c.updated_at).order_by(sync_watermarks.c.resource)  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        WatermarkLag(r[0], _utc(r[1]), watermark_lag_seconds(_utc(r[1]), current), as_utc(r[2]))
        for r in rows
    ]


def emit_watermark_lags(engine: Engine, sink: MetricsSink, now: datetime | None = None) -> int:
    """Gauge every resource's watermark lag into ``sink``; returns how many were sent."""
    lags = watermark_lags(engine, now)
    for lag in lags:
        record_watermark(sink, lag.resource, lag.watermark, now)
    return len(lags)


def recent_runs(engine: Engine, where: Filter = Filter(), *, limit: int = 20) -> list[RunSummary]:
    """The latest runs seen in the ledger, newest first, with their calls and failures."""
    last = func.max(L.reserved_at).label("last")
    stmt = where.apply(
        select(
            L.run_id, func.max(L.dag_id), func.min(L.reserved_at), last, _count(IS_OURS),
            _count(IS_THROTTLED), _count(IS_ERROR), _count(IS_RETRY),
            func.count(func.distinct(L.task_id)),
        ).where(L.run_id.is_not(None), IS_OURS)
    ).group_by(L.run_id).order_by(last.desc()).limit(limit)  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        run_ids = [r[0] for r in rows]
        loaded: dict[str, int] = {}
        if run_ids and inspect(conn).has_table(sync_checkpoints.name):
            cp = sync_checkpoints.c
            loaded = {
                r[0]: int(r[1])
                for r in conn.execute(
                    select(cp.run_id, func.sum(cp.rows))
                    .where(cp.run_id.in_(run_ids))
                    .group_by(cp.run_id)
                )
            }
    return [
        RunSummary(
            run_id=r[0], dag_id=r[1], first=_utc(r[2]), last=_utc(r[3]), calls=int(r[4]),
            throttled=int(r[5]), errors=int(r[6]), retries=int(r[7]), tasks=int(r[8]),
            rows=loaded.get(r[0]),
        )
        for r in rows
    ]
