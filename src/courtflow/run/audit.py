"""Audit a mirror against the server: counts per window, and a repair of the ones that drift.

For each window of ``[since, until)`` one ``count=on`` call gives the server's number of
records modified in it (scope filters included); the table gives the number of live
rows whose ``date_modified`` falls in it. Windows are months, or days when a month holds
more rows than :data:`DAY_STEP_ABOVE` (a drifted window's repair re-walks it, so a
finer window keeps a repair cheap on busy resources; a coarse one keeps the audit cheap
on quiet ones).

A repair re-walks only the drifted windows, storing what the server returns (missing
rows, newer versions). A live row of the window that the walk did not return is either
deleted on the server or was edited since (its ``date_modified`` moved past the window):
its own detail URL decides (one call each). 404 or 410: marked ``deleted_at``. 200: the
new version is stored. Nothing is ever marked deleted on a guess, and nothing is removed
unless :func:`purge` is asked for.

    with open_pipeline(settings) as p:
        plan = plan_audit(p.engine, spec, scope, since=None, until=None, step="auto")
        counts = count_windows(p.engine, p.client, spec, scope, plan)
        for c in counts:
            if c.drift:
                repair_window(p.engine, p.client, spec, scope, c.window, run_id="audit__1")
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from courtflow.bootstrap.rowscope import local_condition
from courtflow.catalogue.resources import ResourceSpec
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window
from courtflow.client import CourtListenerClient
from courtflow.errors import BadPayloadError, ConfigError, GoneError, NotFoundError
from courtflow.run.plan import PlanEstimate, fmt_seconds
from courtflow.store.convert import record_id
from courtflow.store.deletions import live_count, live_ids, mark_deleted, purge_deleted
from courtflow.store.rejects import store_page
from courtflow.store.state import get_watermark
from courtflow.store.tables import resource_table

log = logging.getLogger("courtflow.audit")

Step = Literal["auto", "day", "month"]
# Above this many stored rows in an average month, windows are days (100 pages a month).
DAY_STEP_ABOVE = 2000
# The whole-refresh resources' one "window": every time there is.
ALL_TIME = Window(datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class AuditPlan:
    resource: str
    scope: str
    span: Window
    step: Literal["day", "month", "all"]
    windows: tuple[Window, ...]

    @property
    def calls(self) -> int:
        return len(self.windows)  # one count=on call a window


@dataclass(frozen=True)
class WindowCount:
    window: Window
    server: int
    local: int

    @property
    def drift(self) -> int:
        """Records the server has that the mirror lacks (negative: the mirror has more)."""
        return self.server - self.local


@dataclass(frozen=True)
class Repair:
    window: Window
    pages: int
    calls: int  # pages and detail checks
    written: int  # rows inserted or changed by the walk and the detail checks
    moved: int  # rows edited since: their new version was stored
    deleted: int  # rows the server no longer has: marked deleted

    def as_dict(self) -> dict[str, Any]:
        return {"window": str(self.window), "pages": self.pages, "calls": self.calls,
                "written": self.written, "moved": self.moved, "deleted": self.deleted}  # fmt: skip


def scope_condition(spec: ResourceSpec, scope: Scope) -> ColumnElement[bool] | None:
    """Which stored rows belong to the scope (None: all of them); ConfigError if unknown."""
    if not scope.filters:
        return None
    return local_condition(spec, scope, resource_table(spec))


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    days = calendar.monthrange(moment.year, moment.month)[1]
    return _month_start(moment) + timedelta(days=days)


def split_calendar(span: Window, step: Literal["day", "month"]) -> list[Window]:
    """``span`` cut at UTC day or month boundaries (the first and last pieces clipped)."""
    out: list[Window] = []
    start = span.start
    while start < span.end:
        edge = _next_month(start) if step == "month" else _day_start(start) + timedelta(days=1)
        end = min(edge, span.end)
        out.append(Window(start, end))
        start = end
    return out


def plan_audit(
    engine: Engine,
    spec: ResourceSpec,
    scope: Scope,
    *,
    since: datetime | None,
    until: datetime | None,
    step: Step = "auto",
) -> AuditPlan:
    """The windows to count. By default from the oldest stored row of the scope to its
    watermark: past the watermark the mirror is not expected to hold anything yet."""
    where = scope_condition(spec, scope)
    if not spec.incremental:
        return AuditPlan(spec.name, scope.key, ALL_TIME, "all", (ALL_TIME,))
    table = resource_table(spec)
    with engine.connect() as conn:
        if until is None:
            until = get_watermark(conn, spec.name, scope.key)
            if until is None:
                raise ConfigError(
                    f"{scope.label} has no watermark (nothing synced yet): give --until, "
                    "or sync or bootstrap it first"
                )
        if since is None:
            oldest = select(func.min(table.c.date_modified)).where(
                table.c.deleted_at.is_(None), *(() if where is None else (where,))
            )
            first = conn.execute(oldest).scalar_one_or_none()
            if first is None:
                raise ConfigError(f"{scope.label} holds no rows: give --since to audit a range")
            since = _day_start(first)
        if since >= until:
            raise ConfigError(f"nothing to audit: --since {since.isoformat()} is not before "
                              f"--until {until.isoformat()}")  # fmt: skip
        span = Window(since, until)
        chosen = step
        if step == "auto":
            stored = live_count(conn, spec, span, where)
            months = max(1.0, (until - since).total_seconds() / (30.44 * 86400))
            chosen = "day" if stored / months > DAY_STEP_ABOVE else "month"
    assert chosen in ("day", "month")
    return AuditPlan(spec.name, scope.key, span, chosen, tuple(split_calendar(span, chosen)))


def count_windows(
    engine: Engine,
    client: CourtListenerClient,
    spec: ResourceSpec,
    scope: Scope,
    plan: AuditPlan,
) -> list[WindowCount]:
    """The server's and the mirror's counts per window (one call a window)."""
    where = scope_condition(spec, scope)
    out = []
    for window in plan.windows:
        dated = plan.step != "all"
        server = client.count(
            spec,
            since=window.start if dated else None,
            until=window.end if dated else None,
            filters=scope.params(),
        )
        with engine.connect() as conn:
            local = live_count(conn, spec, window, where)
        out.append(WindowCount(window, server, local))
    return out


def _key(spec: ResourceSpec, record: Any) -> Any:
    try:
        return record_id(spec, record)
    except BadPayloadError:
        return None


def repair_window(
    engine: Engine,
    client: CourtListenerClient,
    spec: ResourceSpec,
    scope: Scope,
    window: Window,
    *,
    run_id: str | None,
    dated: bool = True,
) -> Repair:
    """Re-walk one window, store what it returns, and settle every live row it did not
    return by its detail URL (see the module docstring)."""
    where = scope_condition(spec, scope)
    seen: set[Any] = set()
    pages = calls = written = 0
    for page in client.iter_pages(
        spec,
        since=window.start if dated else None,
        until=window.end if dated else None,
        filters=scope.params(),
    ):
        with engine.begin() as conn:
            stored = store_page(conn, spec, page.results, run_id, scope=scope.key,
                                page_url=page.url)  # fmt: skip
        pages, calls, written = pages + 1, calls + page.attempts, written + stored.written
        seen.update(k for k in (_key(spec, r) for r in page.results) if k is not None)
    with engine.connect() as conn:
        missing = sorted(live_ids(conn, spec, window, where) - seen, key=str)
    moved = 0
    gone: list[Any] = []
    for key in missing:
        calls += 1
        try:
            # The list walk's own field selection, so the row keeps one shape.
            params = {"omit": ",".join(spec.default_omit)} if spec.default_omit else None
            record = client.get(f"{spec.path.strip('/')}/{key}/", params)
        except (NotFoundError, GoneError):
            gone.append(key)
            continue
        if not isinstance(record, dict):
            continue
        with engine.begin() as conn:
            written += store_page(conn, spec, [record], run_id, scope=scope.key).written
        moved += 1
    deleted = 0
    if gone:
        with engine.begin() as conn:
            deleted = mark_deleted(conn, spec, gone, datetime.now(UTC))
        log.info(
            "rows the server no longer has marked deleted",
            extra={"event": "audit_deleted", "resource": spec.name, "scope": scope.key,
                   "window": str(window), "rows": deleted},
        )  # fmt: skip
    return Repair(window, pages, calls, written, moved, deleted)


def purge(engine: Engine, spec: ResourceSpec, scope: Scope, span: Window | None) -> int:
    """Physically remove the scope's rows marked deleted (in ``span`` when given)."""
    where = scope_condition(spec, scope)
    table = resource_table(spec)
    parts: list[ColumnElement[bool]] = [] if where is None else [where]
    if span is not None and span != ALL_TIME:
        parts += [table.c.date_modified >= span.start, table.c.date_modified < span.end]
    with engine.begin() as conn:
        return purge_deleted(conn, spec, and_(true(), *parts))


def budget_lines(estimate: PlanEstimate) -> list[str]:
    """What the budget needs for these calls, in the words of ``courtflow plan``."""
    lines = []
    for w in estimate.windows:
        room = "now" if w.first_room_in <= 0 else f"in {fmt_seconds(w.first_room_in)}"
        need = ("room for all of them" if w.wait_seconds <= 0
                else f"all of them through in about {fmt_seconds(w.wait_seconds)}")  # fmt: skip
        lines.append(f"  {w.rate:<12} used {w.used}/{w.limit}, remaining {w.remaining}, "
                     f"room {room}: {need}")  # fmt: skip
    slow = estimate.slowest
    if slow is None:
        lines.append(f"  budget: room now for all {estimate.calls} calls")
    else:
        lines.append(f"  budget: about {fmt_seconds(estimate.wait_seconds)} of budget time "
                     f"(limited by {slow.rate})")  # fmt: skip
    return lines


def drift_lines(counts: Sequence[WindowCount]) -> list[str]:
    return [
        f"  {c.window}  server {c.server}  stored {c.local}  ({c.drift:+d})"
        for c in counts if c.drift
    ]
