"""What has been loaded, what is stuck, how much quota is left: one query module.

``courtflow status``, the HTML report and the Airflow quota view all read this, so they
agree. Every answer is a frozen dataclass; :func:`as_jsonable` turns one into plain JSON.

    status = gather_status(engine, settings.rates, budget_key=settings.budget_key)
    for s in status.scopes:
        print(s.label, s.watermark, s.lag_seconds, len(s.open_windows))

Rejected records live in a table another part of courtflow adds (``sync_rejects``); the
count is one function, :func:`count_rejects`, passed in as ``rejects=`` so a different
rejects store plugs in without touching the rest. A database without that table counts 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    case,
    column,
    func,
    inspect,
    literal,
    or_,
    select,
    table,
)  # fmt: skip

from courtflow.budget import ledger
from courtflow.budget.bookings import Booked, booked
from courtflow.budget.budget import Budget
from courtflow.budget.classes import ClassStats, class_stats
from courtflow.budget.rates import Rate
from courtflow.budget.tables import EXTERNAL, api_budget_blocks, api_call_ledger
from courtflow.observe.history import as_utc
from courtflow.observe.metrics import watermark_lag_seconds
from courtflow.store.tables import sync_checkpoints, sync_ranges, sync_watermarks

REJECTS_TABLE = "sync_rejects"
CLASS_PERIOD = timedelta(hours=1)  # the span of the per-class admissions and waits
RECENT_THROTTLES = 10  # 429s listed
RECENT_SPAN = timedelta(hours=24)  # how far back "recent" looks

ScopeKey = tuple[str, str]  # (resource, scope key)
RejectCounter = Callable[[Connection], Mapping[ScopeKey, int]]


@dataclass(frozen=True)
class OpenWindow:
    """A window started and not finished: where its next page would be read from."""

    start: datetime
    end: datetime
    pages: int
    rows: int
    calls: int
    has_cursor: bool  # a saved ``next`` URL (False: no page stored yet)
    cursor_age_seconds: float | None  # since the cursor was saved; server cursors expire
    run_id: str | None


@dataclass(frozen=True)
class LoadedRange:
    """A span ``[start, end)`` of ``date_modified``: loaded (completed windows merged,
    ``sync_ranges``) or, in ``ScopeStatus.gaps``, missing between two loaded ones."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class ScopeStatus:
    resource: str
    scope: str  # "" for the whole resource
    watermark: datetime | None
    lag_seconds: float | None
    completed_windows: int
    completed_pages: int
    completed_rows: int
    loaded: tuple[LoadedRange, ...]
    open_windows: tuple[OpenWindow, ...]
    rejected: int
    # Holes between loaded ranges: the watermark stops at the first; backfill --gaps.
    gaps: tuple[LoadedRange, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.resource}?{self.scope}" if self.scope else self.resource


@dataclass(frozen=True)
class BudgetWindow:
    """One sliding window of one token: used / limit / remaining and when room appears."""

    rate: str
    used: int
    limit: int
    remaining: int
    available_at: datetime
    wait_seconds: float  # 0 when there is room now

    @property
    def room(self) -> str:
        return "now" if self.wait_seconds <= 0 else f"in {self.wait_seconds:.1f}s"


@dataclass(frozen=True)
class TokenStatus:
    """A budget key (a hash of a token, never the token) and its windows."""

    budget_key: str
    windows: tuple[BudgetWindow, ...]
    blocked_until: datetime | None  # a 429's Retry-After every worker honours
    block_reason: str | None
    server_rates: str | None  # the rates api-usage/ last reported
    # Admissions and queue waits per priority class over the last CLASS_PERIOD.
    classes: tuple[ClassStats, ...] = ()
    # Room kept for higher classes' scheduled runs (courtflow.budget.bookings).
    bookings: tuple[Booked, ...] = ()

    @property
    def room(self) -> str:
        waits = [w.wait_seconds for w in self.windows]
        wait = max(waits, default=0.0)
        return "now" if wait <= 0 else f"in {wait:.1f}s"


@dataclass(frozen=True)
class Throttle:
    """One 429 the server answered."""

    at: datetime
    budget_key: str
    endpoint: str | None
    run_id: str | None
    task_id: str | None


@dataclass(frozen=True)
class Status:
    generated_at: datetime
    scopes: tuple[ScopeStatus, ...]
    tokens: tuple[TokenStatus, ...]
    throttles: tuple[Throttle, ...]  # newest first, at most RECENT_THROTTLES
    throttled_24h: int
    rejected_total: int


# -- rejects: the plug point ------------------------------------------------------------


def count_rejects(conn: Connection) -> dict[ScopeKey, int]:
    """Rejected records per (resource, scope) from ``sync_rejects``; {} without the table.

    Only the columns ``resource`` and (optionally) ``scope`` are assumed.
    """
    insp = inspect(conn)
    if not insp.has_table(REJECTS_TABLE):
        return {}
    names = {c["name"] for c in insp.get_columns(REJECTS_TABLE)}
    if "resource" not in names:
        return {}
    t = table(REJECTS_TABLE, column("resource"), column("scope"))
    scope_col: Any = t.c.scope if "scope" in names else literal("")
    stmt = select(t.c.resource, scope_col, func.count()).group_by(t.c.resource, scope_col)
    return {(r[0], r[1] or ""): int(r[2]) for r in conn.execute(stmt)}


# -- load state -------------------------------------------------------------------------


def _merge(ranges: list[LoadedRange]) -> tuple[LoadedRange, ...]:
    merged: list[LoadedRange] = []
    for r in sorted(ranges, key=lambda x: x.start):
        if merged and r.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = LoadedRange(last.start, max(last.end, r.end))
        else:
            merged.append(r)
    return tuple(merged)


def scope_statuses(
    conn: Connection, now: datetime, rejects: RejectCounter = count_rejects
) -> tuple[ScopeStatus, ...]:
    """Every resource and scope with a checkpoint or a watermark."""
    insp = inspect(conn)
    if not insp.has_table(sync_checkpoints.name):
        return ()
    cp, wm = sync_checkpoints.c, sync_watermarks.c
    marks = {
        (r.resource, r.scope): _utc(r.watermark)
        for r in conn.execute(select(wm.resource, wm.scope, wm.watermark))
    }
    done: dict[ScopeKey, list[Any]] = {}
    open_: dict[ScopeKey, list[OpenWindow]] = {}
    stmt = select(sync_checkpoints).order_by(cp.resource, cp.scope, cp.window_start)
    for r in conn.execute(stmt):
        key = (r.resource, r.scope)
        if r.done:
            done.setdefault(key, []).append(r)
            continue
        saved = as_utc(r.updated_at)
        open_.setdefault(key, []).append(OpenWindow(
            start=_utc(r.window_start), end=_utc(r.window_end), pages=int(r.pages),
            rows=int(r.rows), calls=int(r.calls), has_cursor=r.next_url is not None,
            cursor_age_seconds=(now - saved).total_seconds()
            if saved is not None and r.next_url is not None else None,
            run_id=r.run_id,
        ))  # fmt: skip
    rejected = rejects(conn)
    ranges = _ranges(conn, insp.has_table(sync_ranges.name))
    out = []
    for key in sorted({*marks, *done, *open_, *rejected, *ranges}):
        finished = done.get(key, [])
        mark = marks.get(key)
        loaded = ranges[key] if key in ranges else _merge(
            [LoadedRange(_utc(r.window_start), _utc(r.window_end)) for r in finished])
        out.append(ScopeStatus(
            resource=key[0], scope=key[1], watermark=mark,
            lag_seconds=watermark_lag_seconds(mark, now) if mark else None,
            completed_windows=len(finished),
            completed_pages=sum(int(r.pages) for r in finished),
            completed_rows=sum(int(r.rows) for r in finished),
            loaded=loaded,
            open_windows=tuple(open_.get(key, [])),
            rejected=rejected.get(key, 0),
            gaps=tuple(LoadedRange(a.end, b.start) for a, b in pairwise(loaded)
                       if a.end < b.start),
        ))  # fmt: skip
    return tuple(out)


def _ranges(conn: Connection, present: bool) -> dict[ScopeKey, tuple[LoadedRange, ...]]:
    """Every scope's loaded ranges from ``sync_ranges`` (before 0010_ranges: none)."""
    if not present:
        return {}
    r = sync_ranges.c
    spans: dict[ScopeKey, list[LoadedRange]] = {}
    for row in conn.execute(select(r.resource, r.scope, r.range_start, r.range_end)):
        spans.setdefault((row[0], row[1]), []).append(
            LoadedRange(_utc(row[2]), _utc(row[3])))
    return {key: _merge(items) for key, items in spans.items()}


# -- budget -----------------------------------------------------------------------------


def token_statuses(
    engine: Engine,
    rates: Sequence[Rate],
    *,
    budget_key: str | None,
    headroom: float = 0.0,
    safety_margin: float = 1.0,
) -> tuple[TokenStatus, ...]:
    """Each budget key's windows as the ledger counts them (external usage included).

    ``budget_key`` None: every key seen in the ledger or the blocks table, each checked
    against ``rates`` (and the server's rates stored for it, where tighter).
    """
    if not rates or not inspect(engine).has_table(api_call_ledger.name):
        return ()
    blocks = {}
    with engine.connect() as conn:
        b = api_budget_blocks.c
        for r in conn.execute(select(b.budget_key, b.blocked_until, b.reason, b.server_rates)):
            blocks[r[0]] = (as_utc(r[1]), r[2], r[3])
        if budget_key is None:
            seen = conn.execute(select(api_call_ledger.c.budget_key).distinct()).scalars()
            keys = sorted({*seen, *blocks})
        else:
            keys = [budget_key]
    out = []
    for key in keys:
        budget = Budget(engine, key, rates, headroom=headroom, safety_margin=safety_margin)
        windows = []
        usage = budget.usage()
        now = _now_epoch(engine)
        for w in usage:
            wait = 0.0 if w.remaining > 0 else max(0.0, w.available_at - now)
            windows.append(BudgetWindow(
                rate=w.rate, used=w.used, limit=w.limit, remaining=w.remaining,
                available_at=datetime.fromtimestamp(w.available_at, UTC), wait_seconds=wait,
            ))  # fmt: skip
        until, reason, server = blocks.get(key, (None, None, None))
        if until is not None and until <= datetime.now(UTC):
            until, reason = None, None  # an expired block holds nobody
        since = datetime.fromtimestamp(now, UTC) - CLASS_PERIOD
        classes = class_stats(engine, key, since)
        with engine.connect() as conn:
            held = booked(conn, key, ledger.db_now(conn))
        out.append(TokenStatus(key, tuple(windows), until, reason, server, classes, held))
    return tuple(out)


def _now_epoch(engine: Engine) -> float:
    with engine.connect() as conn:
        return ledger.epoch(ledger.db_now(conn))


def recent_throttles(
    conn: Connection, now: datetime, *, budget_key: str | None = None
) -> tuple[tuple[Throttle, ...], int]:
    """The latest 429s of the last day (newest first) and how many there were."""
    return throttles_between(conn, now - RECENT_SPAN, now, budget_key=budget_key)


def throttles_between(
    conn: Connection,
    since: datetime | None,
    until: datetime | None,
    *,
    budget_key: str | None = None,
    limit: int = RECENT_THROTTLES,
) -> tuple[tuple[Throttle, ...], int]:
    """The latest ``limit`` 429s in ``[since, until]`` (newest first) and their total."""
    L = api_call_ledger.c
    where = [or_(L.status == 429, L.outcome == "throttled"), L.outcome != EXTERNAL]
    if since is not None:
        where.append(L.reserved_at >= since)
    if until is not None:
        where.append(L.reserved_at <= until)
    if budget_key is not None:
        where.append(L.budget_key == budget_key)
    total = int(conn.execute(select(func.count()).where(*where)).scalar_one())
    rows = conn.execute(
        select(L.reserved_at, L.budget_key, L.endpoint, L.run_id, L.task_id)
        .where(*where)
        .order_by(L.reserved_at.desc())
        .limit(limit)
    ).all()
    return tuple(Throttle(_utc(r[0]), r[1], r[2], r[3], r[4]) for r in rows), total


# -- everything -------------------------------------------------------------------------


def gather_status(
    engine: Engine,
    rates: Sequence[Rate],
    *,
    budget_key: str | None = None,
    headroom: float = 0.0,
    safety_margin: float = 1.0,
    now: datetime | None = None,
    rejects: RejectCounter = count_rejects,
) -> Status:
    """The whole operator's view: load state per scope, budget per token, recent 429s."""
    current = now or datetime.now(UTC)
    has_ledger = inspect(engine).has_table(api_call_ledger.name)
    with engine.connect() as conn:
        scopes = scope_statuses(conn, current, rejects)
        throttles, total = (
            recent_throttles(conn, current, budget_key=budget_key) if has_ledger else ((), 0)
        )
    tokens = token_statuses(engine, rates, budget_key=budget_key, headroom=headroom,
                            safety_margin=safety_margin)  # fmt: skip
    return Status(current, scopes, tokens, throttles, total, sum(s.rejected for s in scopes))


def _utc(value: datetime | str) -> datetime:
    result = as_utc(value)
    assert result is not None
    return result


def as_jsonable(value: Any) -> Any:
    """Dataclasses to dicts (with their ``label``/``room``), datetimes to ISO 8601 UTC."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for extra in ("label", "room"):
            if hasattr(type(value), extra):
                out[extra] = getattr(value, extra)
        return out
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (tuple, list)):
        return [as_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- the Airflow quota view's figures (courtflow.airflow.quota renders them) --------------
@dataclass(frozen=True)
class TaskCalls:
    dag_id: str
    task_id: str
    calls: int
    throttled: int
    last: datetime | None


@dataclass(frozen=True)
class Lag:
    resource: str
    scope: str
    watermark: datetime
    lag_seconds: float


def _utc_of(value: Any) -> datetime:
    result = as_utc(value)
    assert result is not None
    return result


def calls_by_task(
    engine: Engine, budget_key: str, since: datetime, dag_ids: Collection[str] | None
) -> tuple[TaskCalls, ...]:
    """Calls and 429s per DAG and task since ``since`` (only ``dag_ids`` when given)."""
    from courtflow.observe.history import IS_OURS, IS_THROTTLED, L

    throttled = func.coalesce(func.sum(case((IS_THROTTLED, 1), else_=0)), 0)
    stmt = (
        select(L.dag_id, L.task_id, func.count(), throttled, func.max(L.reserved_at))
        .where(L.budget_key == budget_key, L.reserved_at >= since, L.dag_id.is_not(None), IS_OURS)
        .group_by(L.dag_id, L.task_id)
        .order_by(L.dag_id, L.task_id)
    )
    if dag_ids is not None:
        stmt = stmt.where(L.dag_id.in_(sorted(dag_ids)))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return tuple(
        TaskCalls(str(r[0]), str(r[1] or "-"), int(r[2]), int(r[3]),
                  _utc_of(r[4]) if r[4] is not None else None)
        for r in rows
    )


def watermark_lags(engine: Engine, now: datetime) -> tuple[Lag, ...]:
    """Each resource's and scope's watermark and how far it trails ``now``."""
    w = sync_watermarks

    if not inspect(engine).has_table(w.name):
        return ()
    with engine.connect() as conn:
        rows = conn.execute(
            select(w.c.resource, w.c.scope, w.c.watermark).order_by(w.c.resource, w.c.scope)
        ).all()
    return tuple(
        Lag(str(r[0]), str(r[1] or ""), _utc_of(r[2]), watermark_lag_seconds(_utc_of(r[2]), now))
        for r in rows
    )
