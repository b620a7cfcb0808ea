"""courtflow command line: sync | backfill | plan | audit | search | bootstrap | status |
budget | report | migrate | sandbox."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

# Only light modules here: `courtflow --help` and `--version` must start fast, so
# SQLAlchemy, httpx, Alembic and rich are imported inside the commands that use them
# (tests/unit/core/test_cli_start.py, benchmarks/cli_start_bench.py).
from courtflow import __version__
from courtflow.catalogue.resources import ResourceSpec
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window, check_step, iso, parse_instant
from courtflow.config import Settings, duration_text, parse_duration
from courtflow.errors import BudgetExhaustedError, CourtflowError, FatalError, ThrottledError
from courtflow.observe.logs import LOG_FORMATS, configure_logging, log_context
from courtflow.run.plan import fmt_seconds

if TYPE_CHECKING:
    from courtflow.budget.budget import Budget
    from courtflow.client.gate import CallGate
    from courtflow.run.progress import Progress
    from courtflow.run.summary import Stored
    from courtflow.run.sync import Pipeline, SyncResult


class _ResourceNames(Sequence[str]):
    """The resource names for ``--resource``'s choices, read from the catalogue only
    when argparse checks or shows them (not for ``courtflow --help``; a ``metavar``
    keeps ``add_argument`` from listing them while the parser is built)."""

    def _names(self) -> list[str]:
        from courtflow.catalogue.resources import RESOURCES

        return sorted(RESOURCES)

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()



def _window(args: argparse.Namespace) -> Window | None:
    """The window the user gave; None without --since (a catch-up, or backfill --gaps).
    Its end is clamped later, when the server's clock is known (run.sync)."""
    until = parse_instant(args.until, name="--until") if args.until else None
    if args.since is None:
        if until is not None and not getattr(args, "gaps", False):
            raise FatalError("--until needs --since (without both, sync catches up from the "
                             "watermark)")  # fmt: skip
        return None
    since = parse_instant(args.since, name="--since")
    return Window(since, until or max(since, datetime.now(UTC)))


def _given_window(args: argparse.Namespace) -> Window:
    window = _window(args)
    if window is None:
        raise FatalError(f"courtflow {args.command} needs --since")
    return window


def _reject_ratio(args: argparse.Namespace, settings: Settings) -> Settings:
    """--max-reject-ratio over COURTFLOW_MAX_REJECT_RATIO."""
    ratio = getattr(args, "max_reject_ratio", None)
    if ratio is None:
        return settings
    if not 0.0 <= ratio <= 1.0:
        raise FatalError(f"--max-reject-ratio must be between 0 and 1, got {ratio:g}")
    return settings.with_overrides(max_reject_ratio=ratio)


def _catch_up(args: argparse.Namespace, p: Pipeline, spec: ResourceSpec, scope: Scope,
              settings: Settings) -> Window | None:  # fmt: skip
    """A run without --since reads from the watermark, less the lookback, to the server's
    clock less the settle lag. None when there is nothing to read yet."""
    from courtflow.catalogue.window import catch_up
    from courtflow.run.sync import server_limit
    from courtflow.store import LOADED_FROM_START, get_watermark

    lookback = parse_duration(args.lookback, "--lookback") if args.lookback else settings.lookback
    limit = server_limit(p.client, settings.settle_lag)
    with p.engine.connect() as conn:
        mark = get_watermark(conn, spec.name, scope.key)
    if mark is None:
        if spec.incremental:
            raise FatalError(
                f"{scope.label} has no watermark yet: give --since for its first load "
                "(or bootstrap it from a bulk export)"
            )
        mark = LOADED_FROM_START  # a whole-refresh resource is walked whole anyway
    window = catch_up(mark, limit, lookback if mark > LOADED_FROM_START else timedelta(0))
    if window is None:
        _say(args, f"{scope.label} is caught up: watermark {iso(mark)} is at the server's "
                   f"clock less the settle lag ({iso(limit)}); nothing to sync")  # fmt: skip
    return window


def _scope(args: argparse.Namespace) -> tuple[ResourceSpec, Scope]:
    """The resource and its scope; bad filters are refused here, before any call."""
    from courtflow.catalogue.filters import parse_filter_items
    from courtflow.catalogue.resources import get_resource
    from courtflow.catalogue.scope import Scope

    spec = get_resource(args.resource)
    return spec, Scope.of(spec, parse_filter_items(args.filter or ()))


def _split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _say(args: argparse.Namespace, text: str) -> None:
    """A human line on stderr; with JSON logs, a log record instead (stderr stays JSON)."""
    if args.quiet:
        return
    if _json_logs(args):
        logging.getLogger("courtflow.cli").info(text, extra={"event": "summary"})
    else:
        print(text, file=sys.stderr)


def _ids(args: argparse.Namespace, kind: str, spec: ResourceSpec) -> tuple[str, str]:
    import uuid

    run_id = args.run_id or f"{'cli' if kind == 'sync' else kind}__{uuid.uuid4().hex[:12]}"
    return run_id, f"{kind}.{spec.name}"


def _observed(progress: Progress) -> Callable[[CallGate], CallGate]:
    """Every attempt: a JSON/text log line with the budget left, and a progress count."""
    from courtflow.observe.metrics import NullSink, ObservedGate

    def wrap(gate: CallGate) -> CallGate:
        usage = getattr(gate, "usage", None)
        return progress.gate(ObservedGate(gate, NullSink(), usage=usage))

    return wrap


def _with_priority(args: argparse.Namespace, settings: Settings, default: str) -> Settings:
    """The budget class of this command's calls: --priority, COURTFLOW_PRIORITY, default."""
    return settings.with_overrides(priority=args.priority or settings.priority or default)


def _max_wait(args: argparse.Namespace) -> float:
    """The longest budget wait this run accepts: ``--max-wait``, else as long as it takes.

    A CLI has nothing to defer to (COURTFLOW_MAX_SLEEP is Airflow's: a worker defers
    rather than sleeps), so by default it waits, visibly, until the budget has room.
    """
    if not args.max_wait:
        return math.inf
    return parse_duration(args.max_wait, "--max-wait").total_seconds()


@contextmanager
def _budgeted_run(
    args: argparse.Namespace, settings: Settings, label: str, spec: ResourceSpec, scope: Scope,
    run_id: str, task_id: str, total: int | None = None,
) -> Iterator[tuple[Progress, Pipeline]]:  # fmt: skip
    """A load's log context, its progress display, and a pipeline that waits for the
    budget up to ``--max-wait`` (visibly: the progress hears every wait) and, if it gives
    up, gives its place in the queue up with it (it exits)."""
    from courtflow.run.progress import open_progress
    from courtflow.run.sync import open_pipeline

    with (
        log_context(run_id=run_id, task_id=task_id, resource=spec.name, scope=scope.key),
        open_progress(label, total=total, enabled=not args.quiet,
                      as_log=_json_logs(args)) as progress,
        open_pipeline(settings, run_id=run_id, task_id=task_id,
                      gate_wrapper=_observed(progress), on_retry=progress.on_retry,
                      max_sleep=_max_wait(args), hold_on_defer=False) as p,
    ):  # fmt: skip
        progress.attach(p.budget)
        yield progress, p


def _too_long(args: argparse.Namespace, budget: Budget, exc: BudgetExhaustedError) -> Exception:
    """The error a CLI exits 75 with: when room returns (per full window), the option to change."""
    from courtflow.run.plan import fmt_seconds

    try:
        full = [w for w in budget.usage() if w.remaining <= 0]
    except Exception:  # the error matters more than its details
        full = []
    back = max([exc.available_at, *(w.available_at for w in full)])
    windows = "; ".join(
        f"{w.rate} full ({w.used}/{w.limit} used), "
        f"{_day_or_window(w.rate)} room returns at {_iso(w.available_at)}"
        for w in full
    ) or f"room returns at {_iso(back)}"
    return BudgetExhaustedError(
        f"call budget: {windows}; waiting {fmt_seconds(exc.wait_seconds)} is longer than "
        f"--max-wait {args.max_wait}. Rerun after {_iso(back)}, or give a longer "
        "--max-wait (or none: wait as long as it takes)",
        available_at=back, wait_seconds=exc.wait_seconds,
    )  # fmt: skip


def _day_or_window(rate: str) -> str:
    from courtflow.budget.rates import parse_rates

    period = parse_rates(rate)[0].period
    return "the day's" if period == 86_400 else "its"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.run.summary import summarize
    from courtflow.run.sync import sync_window
    from courtflow.store.retry import DbRetryPolicy

    settings = _reject_ratio(args, _with_priority(args, settings, "incremental"))
    spec, scope = _scope(args)
    window = _window(args)
    run_id, task_id = _ids(args, "sync", spec)
    started = datetime.now(UTC)
    every = parse_duration(args.book_next, "--book-next") if args.book_next else None
    if every is not None and every <= timedelta(0):
        raise FatalError("--book-next must be a positive duration such as 1h")
    with _budgeted_run(args, settings, f"sync {scope.label}", spec, scope, run_id,
                       task_id) as (progress, p):
        if window is None:
            window = _catch_up(args, p, spec, scope, settings)
        try:
            result = None if window is None else sync_window(
                p.engine,
                p.client,
                spec,
                window,
                run_id=run_id,
                fields=_split_csv(args.fields),
                omit=_split_csv(args.omit),
                scope=scope,
                on_page=progress.on_page,
                db_retry=DbRetryPolicy(seconds=settings.db_retry_seconds),
                settle_lag=settings.settle_lag,
                max_reject_ratio=settings.max_reject_ratio,
            )  # fmt: skip
        except BudgetExhaustedError as exc:
            raise _too_long(args, p.budget, exc) from None
        stored = {} if result is None else {spec.name: _stored(result)}
        summary = summarize(p.engine, [spec], run_ids=[run_id], stored=stored)
        if every is not None:
            _book_next(args, p.budget, result.calls if result else 0, started + every)
            _apply_retention(args, p.engine, p.budget, spec.name, scope.key, run_id)
    if result is not None:
        _say(args, _synced_line(scope, result))
    _say(args, summary.human())
    print(summary.as_json(), flush=True)
    return 0


def _stored(result: SyncResult) -> Stored:
    from courtflow.run.summary import Stored

    return Stored(result.new, result.changed, result.unchanged)


def _synced_line(scope: Scope, result: SyncResult) -> str:
    if result.future:
        return (f"{scope.label} {result.window} starts after the server's clock less the "
                "settle lag: nothing synced, watermark unchanged")  # fmt: skip
    mark = f"; watermark {iso(result.watermark)}" if result.watermark else ""
    rejected = ""
    if result.window_rejected:
        rejected = (f"; warning: {result.window_rejected} of {result.window_records} records "
                    "rejected (within --max-reject-ratio; see sync_rejects, courtflow status)")
    return (
        f"synced {scope.label} {result.window}: {result.pages} pages, {result.rows} rows, "
        f"{result.calls} calls{' (resumed)' if result.resumed else ''}"
        f"{' (already complete)' if result.skipped else ''}"
        f"{' (saved cursor was dead: window restarted)' if result.restarted else ''}"
        f"{mark}{rejected}"
    )


def _book_next(args: argparse.Namespace, budget: Budget, calls: int, due: datetime) -> None:
    """A run started by a scheduler (cron) books its calls for the next one, and gives
    up what the previous run booked for it (courtflow.budget.bookings)."""
    if budget.book_next(calls, due) is not None:
        _say(args, f"booked {calls} {budget.priority} calls for the next run, due "
                   f"{due.isoformat(timespec='seconds')}")  # fmt: skip


def _apply_retention(args: argparse.Namespace, engine: Any, budget: Budget, resource: str,
                     scope: str, run_id: str) -> None:  # fmt: skip
    """A scheduled run keeps the ledger and the checkpoints bounded: ledger rows older
    than every window and --retention are rolled up and deleted; completed windows older
    than --retention are folded into one per loaded range (courtflow.store.retention)."""
    from courtflow.budget import ledger
    from courtflow.store.retention import merge_old_checkpoints

    keep = parse_duration(args.retention, "--retention")
    budget.purge(keep.total_seconds())
    with engine.begin() as conn:
        now = ledger.db_now(conn)
        merge_old_checkpoints(conn, resource, scope, before=now - keep, run_id=run_id)


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.run.summary import Stored, summarize
    from courtflow.run.sync import sync_window
    from courtflow.store.retry import DbRetryPolicy

    settings = _reject_ratio(args, _with_priority(args, settings, "backfill"))
    spec, scope = _scope(args)
    if args.gaps:
        gaps = _gaps(args, settings, spec, scope)
        if not gaps:
            print(f"{scope.label}: no gap between its loaded ranges; nothing to backfill")
            return 0
        step = timedelta(hours=max(args.step_hours, 1 / 60))
        windows = [w for gap in gaps for w in gap.split(check_step(args.step_hours, gap))]
        _say(args, f"{scope.label}: filling {len(gaps)} gap(s), {len(windows)} window(s) of "
                   f"at most {fmt_seconds(step.total_seconds())}:")  # fmt: skip
        for gap in gaps:
            _say(args, f"  gap {gap}")
    else:
        window = _given_window(args)
        step = check_step(args.step_hours, window)
        windows = list(window.split(step)) if spec.incremental else [window]
    run_id, task_id = _ids(args, "backfill", spec)
    stored = Stored()
    with _budgeted_run(args, settings, f"backfill {scope.label}", spec, scope, run_id,
                       task_id, total=len(windows)) as (progress, p):
        for sub in windows:
            try:
                result = sync_window(
                    p.engine, p.client, spec, sub, run_id=run_id, on_page=progress.on_page,
                    scope=scope, db_retry=DbRetryPolicy(seconds=settings.db_retry_seconds),
                    settle_lag=settings.settle_lag, max_reject_ratio=settings.max_reject_ratio,
                )  # fmt: skip
            except BudgetExhaustedError as exc:
                raise _too_long(args, p.budget, exc) from None
            stored = stored.plus(result.new, result.changed, result.unchanged)
            progress.window_done(skipped=result.skipped)
            if result.future:
                break  # the windows after it start later still
        summary = summarize(p.engine, [spec], run_ids=[run_id], stored={spec.name: stored})
    _say(args, summary.human())
    print(summary.as_json(), flush=True)
    return 0


def _gaps(
    args: argparse.Namespace, settings: Settings, spec: ResourceSpec, scope: Scope
) -> list[Window]:
    """The scope's gaps, cut to --since/--until when given."""
    from courtflow.store import gaps_of, loaded_ranges
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    if not spec.incremental:
        raise FatalError(f"{spec.name} is refreshed whole: it has no gaps to fill")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with engine.connect() as conn:
        gaps = gaps_of(loaded_ranges(conn, spec.name, scope.key))
    lo = parse_instant(args.since, name="--since") if args.since else None
    hi = parse_instant(args.until, name="--until") if args.until else None
    out = []
    for g in gaps:
        start, end = max(g.start, lo or g.start), min(g.end, hi or g.end)
        if start < end:
            out.append(Window(start, end))
    return out


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.budget import ledger
    from courtflow.catalogue.window import check_step
    from courtflow.run.plan import PAGE_SIZE, fmt_seconds, plan_calls, planned_pages
    from courtflow.run.progress import log_retries, say_retries
    from courtflow.run.sync import open_pipeline

    spec, scope = _scope(args)
    window = _given_window(args)
    step = check_step(args.step_hours, window)
    # What `backfill --step-hours` walks: each window ends on its own partial last page.
    windows = len(list(window.split(step))) if spec.incremental else 1
    run_id = f"plan__{os.urandom(6).hex()}"
    listen = log_retries() if _json_logs(args) else say_retries(enabled=not args.quiet)
    with open_pipeline(settings, run_id=run_id, task_id="plan", on_retry=listen) as p:
        # A whole-refresh resource ignores the window, as `sync` does.
        count = p.client.count(
            spec,
            since=window.start if spec.incremental else None,
            until=window.end if spec.incremental else None,
            filters=scope.params(),
        )
        pages = planned_pages(count, windows, PAGE_SIZE)
        # After the count (its own call counted), with external usage already learnt
        # from api-usage/ when the pipeline opened.
        usage = p.budget.usage()
        with p.engine.connect() as conn:
            now = ledger.epoch(ledger.db_now(conn))
    estimate = plan_calls(pages, usage, now)
    split = f" in {windows} windows of {args.step_hours:g}h" if windows > 1 else ""
    print(f"{scope.label} {window}: {count} records{split} -> about {pages} calls "
          f"(page size {PAGE_SIZE}; each window ends on a partial page)")  # fmt: skip
    print("  (the count itself cost 1 call; retries would add more)")
    for w in estimate.windows:
        room = "now" if w.first_room_in <= 0 else f"in {fmt_seconds(w.first_room_in)}"
        need = ("room for all of them" if w.wait_seconds <= 0
                else f"all of them through in about {fmt_seconds(w.wait_seconds)}")  # fmt: skip
        print(f"  {w.rate:<12} used/limit {w.used}/{w.limit}, remaining {w.remaining}, "
              f"room {room}: {need}")  # fmt: skip
    slow = estimate.slowest
    if slow is None:
        print(f"  budget: room now for all {pages} calls; the load takes as long as the "
              "calls themselves")  # fmt: skip
    else:
        print(f"  budget: about {fmt_seconds(estimate.wait_seconds)} of budget time "
              f"(limited by {slow.rate})")  # fmt: skip
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Counts per window against the server; --repair re-walks the drifted ones.

    Like sync: the human lines (cost first, drift, repairs) and the budget waits go to
    stderr, the JSON result to stdout."""
    from courtflow.budget import ledger
    from courtflow.run import audit
    from courtflow.run.plan import plan_calls

    settings = _with_priority(args, settings, "backfill")
    spec, scope = _scope(args)
    since = parse_instant(args.since, name="--since") if args.since else None
    until = parse_instant(args.until, name="--until") if args.until else None
    run_id, task_id = _ids(args, "audit", spec)
    with _budgeted_run(args, settings, f"audit {scope.label}", spec, scope, run_id,
                       task_id) as (_progress, p):
        plan = audit.plan_audit(p.engine, spec, scope, since=since, until=until, step=args.step)
        with p.engine.connect() as conn:
            now = ledger.epoch(ledger.db_now(conn))
        span = "all records" if plan.step == "all" else f"{plan.span}"
        _say(args, f"audit {scope.label} {span}: {len(plan.windows)} {plan.step} window(s) -> "
                   f"{plan.calls} calls (one count=on call a window)")  # fmt: skip
        for line in audit.budget_lines(plan_calls(plan.calls, p.budget.usage(), now)):
            _say(args, line)
        try:
            counts = audit.count_windows(p.engine, p.client, spec, scope, plan)
            drifted = [c for c in counts if c.drift]
            _say(args, f"{len(drifted)} of {len(counts)} window(s) drifted "
                       f"(server {sum(c.server for c in counts)}, stored live rows "
                       f"{sum(c.local for c in counts)})")  # fmt: skip
            for line in audit.drift_lines(counts):
                _say(args, line)
            repairs = []
            if args.repair and drifted:
                _say(args, f"repairing {len(drifted)} window(s): a re-walk each, plus one "
                           "call for every stored row the walk does not return")  # fmt: skip
                for c in drifted:
                    r = audit.repair_window(p.engine, p.client, spec, scope, c.window,
                                            run_id=run_id, dated=plan.step != "all")  # fmt: skip
                    repairs.append(r)
                    _say(args, f"  {r.window}: {r.pages} pages, {r.written} rows written, "
                               f"{r.moved} edited since, {r.deleted} marked deleted, "
                               f"{r.calls} calls")  # fmt: skip
        except BudgetExhaustedError as exc:
            raise _too_long(args, p.budget, exc) from None
        purged = audit.purge(p.engine, spec, scope, plan.span) if args.purge else 0
        if args.purge:
            _say(args, f"purged {purged} row(s) marked deleted")
    print(json.dumps({
        "resource": spec.name, "scope": scope.key, "windows": len(counts),
        "drifted": len(drifted), "count_calls": plan.calls,
        "repaired": [r.as_dict() for r in repairs], "purged": purged,
    }), flush=True)  # fmt: skip
    if drifted and not args.repair:
        _say(args, "drift found: rerun with --repair to re-walk the drifted windows")
        return 1
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.observe.status import as_jsonable, gather_status
    from courtflow.observe.status_text import render_status
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    status = gather_status(
        engine,
        settings.rates,
        budget_key=None if args.all_keys else settings.budget_key,
        headroom=settings.headroom,
        safety_margin=settings.safety_margin,
    )
    if args.json:
        print(json.dumps(as_jsonable(status)))
    else:
        print(render_status(status))
    return 0


def cmd_budget(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.budget.budget import Budget
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    budget = Budget.from_settings(settings, engine)
    print(f"budget key {settings.budget_key} (ledger: {engine.url.render_as_string(True)})")
    now = time.time()
    for w in budget.usage():
        room = "now" if w.room_now or w.available_at <= now else (
            f"in {w.available_at - now:.1f}s "
            f"({datetime.fromtimestamp(w.available_at, UTC).isoformat(timespec='seconds')})"
        )
        print(f"  {w.rate:<12} used/limit {w.used}/{w.limit} remaining {w.remaining} "
              f"room {room}")  # fmt: skip
    _print_classes(engine, settings.budget_key)
    if settings.token is not None and not args.ledger_only:
        from courtflow.client import CourtListenerClient
        from courtflow.errors import ThrottledError

        try:
            with CourtListenerClient(settings) as client:
                usage = client.api_usage()
        except ThrottledError as exc:  # api-usage/ has its own limit (10/min, 120/hour)
            print(f"server (api-usage/): its own limit is reached; ask in {exc.retry_after:.0f}s")
            return 0
        print("server (api-usage/):")
        for uw in usage.user_windows:
            print(
                f"  {uw.rate:<12} used/limit {uw.used}/{uw.limit} remaining {uw.remaining} "
                f"reset_at {uw.reset_at.isoformat() if uw.reset_at else '-'}"
            )
    return 0


def _print_classes(engine: Any, key: str) -> None:
    """One line per priority class: calls, share and queue waits over the last hour."""
    from courtflow.budget.classes import class_stats

    since = datetime.now(UTC) - timedelta(hours=1)
    print("priority classes (last hour): admitted, share, queue wait p50/p95/max, waiting now")
    for c in class_stats(engine, key, since):
        print(
            f"  {c.priority:<12} {c.admitted:>6} calls {100 * c.share:5.1f}%  wait "
            f"{c.wait_p50_ms / 1000:.1f}/{c.wait_p95_ms / 1000:.1f}/{c.wait_max_ms / 1000:.1f}s"
            f"  waiting {c.waiting}"
        )


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import current_revision, upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    print(f"schema at revision {current_revision(engine)}")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.catalogue.window import parse_instant
    from courtflow.observe.report import build_report
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    since = parse_instant(args.since, name="--since") if args.since else None
    path = build_report(
        engine,
        settings.rates,
        args.out,
        since=since,
        secrets=[settings.token],
        budget_key=None if args.all_keys else settings.budget_key,
    )
    print(f"report written to {path.resolve()}")
    return 0


def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    """Clear checkpoints on purpose, so their windows are walked again from the start."""
    from courtflow.catalogue.window import Window, parse_instant
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade
    from courtflow.store.reset import clear_checkpoints
    from courtflow.store.retry import DbRetryPolicy, run_with_db_retry

    spec, scope = _scope(args)
    since = parse_instant(args.since, name="--since") if args.since else None
    until = parse_instant(args.until, name="--until") if args.until else None
    engine = make_engine(settings.database_url)
    upgrade(engine)
    cleared = run_with_db_retry(
        engine,
        lambda: clear_checkpoints(engine, spec.name, scope.key, since=since, until=until),
        DbRetryPolicy(seconds=settings.db_retry_seconds),
        what="reset",
    )
    span = f" overlapping [{args.since or '-inf'}, {args.until or '+inf'})"
    if not cleared:
        print(f"no checkpoint of {scope.label}{span}: nothing cleared")
        return 0
    done = sum(1 for cp in cleared if cp.done)
    print(
        f"cleared {len(cleared)} checkpoint(s) of {scope.label}{span} "
        f"({done} complete, {len(cleared) - done} in progress); "
        "their windows will be fetched again from the start (rows already stored stay)"
    )
    for cp in cleared[:20]:
        state = "done" if cp.done else f"at page {cp.pages}"
        print(f"  {Window(cp.window_start, cp.window_end)} {state}")
    if len(cleared) > 20:
        print(f"  ... and {len(cleared) - 20} more")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """``courtflow search``: courtflow.search.cli, with this module's logging and progress."""
    from courtflow.run.progress import open_progress
    from courtflow.search import cli as search_cli

    return search_cli.cmd_search(
        args, settings, lambda text: _say(args, text), _observed, open_progress,
        _json_logs(args),
    )


def _common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/-q/--log-format, accepted before and after the subcommand.

    The subcommands' copies default to SUPPRESS so they do not overwrite a value
    given before the subcommand.
    """
    default: dict[str, object] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "-v", "--verbose", action="count", **({"default": 0} if top else default),
        help="log every API call (-vv: debug)",
    )  # fmt: skip
    parser.add_argument(
        "-q", "--quiet", action="store_true", **({"default": False} if top else default),
        help="errors only: no progress display, no warnings",
    )  # fmt: skip
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, **({"default": None} if top else default),
        help="log lines as plain text or JSON lines (default: $COURTFLOW_LOG_FORMAT or text)",
    )  # fmt: skip


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.bootstrap import BootstrapOptions, bootstrap
    from courtflow.catalogue.filters import parse_filter_items
    from courtflow.catalogue.resources import get_resource
    from courtflow.run.summary import Stored, summarize
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    run_id = args.run_id or f"bootstrap__{os.urandom(6).hex()}"
    options = BootstrapOptions(
        resource=args.resource,
        filters=parse_filter_items(args.filter or ()),
        load_all=args.all,
        overlap=parse_duration(args.overlap, "--overlap"),
        run_id=run_id,
        force=args.force,
        progress=not args.quiet,
        chunk_bytes=max(1, int(args.chunk_mb * (1 << 20))),
        connections=max(1, args.connections),
        api_base=settings.base_url,
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    results = bootstrap(engine, args.file, options)
    for r in results:
        state = "already loaded, skipped" if r.skipped else (
            f"{r.rows_read} rows read, {r.rows_written} written"
            f"{' (resumed)' if r.resumed else ''}"
        )
        mark = f"; watermark {r.watermark.isoformat()}" if r.watermark else ""
        mark += f"; {r.deleted} absent rows marked deleted" if r.deleted else ""
        print(f"{r.file} -> {r.resource}{'?' + r.scope if r.scope else ''}: {state}{mark}",
              file=sys.stderr)  # fmt: skip
    stored: dict[str, Stored] = {}
    for r in results:
        stored[r.resource] = stored.get(r.resource, Stored()).plus(
            r.new, max(r.rows_written - r.new, 0), r.rows_read - r.rows_written)
    specs = [get_resource(name) for name in stored]
    summary = summarize(engine, specs, run_ids=[run_id], stored=stored)
    print(summary.human(), file=sys.stderr)
    line = json.loads(summary.as_json())
    line["bulk"] = {
        "files": len(results),
        "deleted": sum(r.deleted for r in results),
        "rows_read": sum(r.rows_read for r in results),
        "rows_written": sum(r.rows_written for r in results),
    }
    print(json.dumps(line), flush=True)
    return 0


def _priority(value: str) -> str:
    from courtflow.budget.classes import parse_priority

    try:
        return parse_priority(value, name="--priority")
    except CourtflowError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(*, search: bool = True) -> argparse.ArgumentParser:
    """The parser; ``search=False`` lists ``search`` without building its options."""
    parser = argparse.ArgumentParser(
        prog="courtflow",
        description="Rate-budgeted CourtListener ingestion: sync, backfill, plan, status, "
        "budget, report, migrate, sandbox. Settings come from the environment "
        "(COURTLISTENER_API_TOKEN, COURTLISTENER_API_BASE_URL, COURTFLOW_DATABASE_URL, "
        "COURTFLOW_RATES, ...; see the README).",
    )
    parser.add_argument("--version", action="version", version=f"courtflow {__version__}")
    _common_options(parser, top=True)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND",
        help="what to do (courtflow COMMAND --help lists its options)",
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common_options(p, top=False)
        return p

    def windowed(p: argparse.ArgumentParser) -> None:
        p.add_argument("--resource", required=True, choices=_ResourceNames(), metavar="RESOURCE",
                       help="the API resource to load: %(choices)s")  # fmt: skip
        p.add_argument("--since", help="window start, ISO 8601 (UTC if no zone)")
        p.add_argument("--until", help="window end (exclusive); default now. Every window "
                       "end is clamped to the server's clock less COURTFLOW_SETTLE_LAG")
        p.add_argument(
            "--filter",
            action="append",
            metavar="NAME=VALUE",
            help="server-side filter of the scope, repeatable (e.g. court=scotus, "
            "date_filed__gte=2020-01-01); a filter production takes several values for "
            "may be given again (type=010combined --filter type=020lead); checked before "
            "any call",
        )

    def waits(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--max-wait", type=duration_text("--max-wait"), metavar="DURATION",
            help="the longest wait for the call budget (30m, 2h, 0); past it, exit 75 "
            "(EX_TEMPFAIL) saying when room returns. Default: wait as long as it takes",
        )  # fmt: skip

    def prioritised(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument(
            "--priority",
            type=_priority,
            metavar="CLASS",
            help=f"budget class: interactive, incremental or backfill (default {default})",
        )

    def rejects(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--max-reject-ratio", type=float, metavar="RATIO",
            help="fail (exit 2) when more than this share of a window's records is rejected "
            "(default $COURTFLOW_MAX_REJECT_RATIO or 0.01); a page with every record "
            "rejected always fails",
        )  # fmt: skip

    p = command("sync", "sync one window of one resource; without --since, catch up from "
                "the watermark")  # fmt: skip
    windowed(p)
    prioritised(p, "incremental")
    rejects(p)
    p.add_argument(
        "--lookback", type=duration_text("--lookback"), metavar="DURATION",
        help="without --since: start this long before the watermark, re-reading the tail "
        "of the last window (default $COURTFLOW_LOOKBACK or 1h)",
    )  # fmt: skip
    waits(p)
    p.add_argument("--run-id", help="run id recorded with every call and row (default: new)")
    p.add_argument("--fields", help="comma-separated fields to keep")
    p.add_argument("--omit", help="comma-separated fields to drop")
    p.add_argument(
        "--book-next", type=duration_text("--book-next"), metavar="DURATION",
        help="run from a scheduler every DURATION (1h): book this run's calls for the next "
        "one, so a backfill on the same token leaves it room to start at once",
    )  # fmt: skip
    p.add_argument(
        "--retention", type=duration_text("--retention"), default="7d", metavar="DURATION",
        help="with --book-next: keep ledger rows and separate completed windows this long "
        "(default 7d); older ones are rolled up / folded so the tables stay bounded",
    )  # fmt: skip
    p.set_defaults(func=cmd_sync)

    p = command("backfill", "sync a long range window by window; resumable")
    windowed(p)
    prioritised(p, "backfill")
    rejects(p)
    p.add_argument("--gaps", action="store_true",
                   help="fill the gaps between the scope's loaded ranges (courtflow status "
                   "lists them), within --since/--until if given")  # fmt: skip
    waits(p)
    p.add_argument("--step-hours", type=float, default=24.0, help="window size (default 24)")
    p.add_argument("--run-id", help="reuse to resume a stopped backfill's accounting")
    p.set_defaults(func=cmd_backfill)

    p = command("plan", "estimate the calls a range needs and the budget time")
    windowed(p)
    p.add_argument("--step-hours", type=float, default=24.0,
                   help="the backfill's window size to plan for (default 24)")  # fmt: skip
    p.set_defaults(func=cmd_plan)

    p = command("audit", "compare the server's count per window with the stored rows; "
                "--repair re-walks drifted windows and marks what the server deleted")
    p.add_argument("--resource", required=True, choices=_ResourceNames(), metavar="RESOURCE",
                   help="the API resource to audit")  # fmt: skip
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="the scope's filters, as given to sync (default: the whole resource)")
    p.add_argument("--since", help="start (default: the scope's oldest stored row)")
    p.add_argument("--until", help="end, exclusive (default: the scope's watermark)")
    p.add_argument("--step", choices=("auto", "day", "month"), default="auto",
                   help="window size (default auto: days when a month holds over 2000 rows)")
    p.add_argument("--repair", action="store_true",
                   help="re-walk drifted windows: store what is missing, mark deleted the "
                   "rows the server no longer has (checked one by one)")
    p.add_argument("--purge", action="store_true",
                   help="then remove the audited range's rows marked deleted (otherwise "
                   "rows are never removed)")
    p.add_argument("--run-id", help="run id recorded with every call and row (default: new)")
    prioritised(p, "backfill")
    waits(p)
    p.set_defaults(func=cmd_audit)

    p = command("status", "what is loaded, what is open, how much quota is left, recent 429s")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument("--all-keys", action="store_true",
                   help="every token's budget, not only the configured token's")  # fmt: skip
    p.set_defaults(func=cmd_status)

    p = command(
        "bootstrap",
        "first load from CourtListener's bulk CSV exports (no API call), then set "
        "the watermark so sync continues from the export's date",
    )
    p.add_argument(
        "--file", action="append", required=True, metavar="PATH_OR_URL",
        help="an export file, e.g. dockets-2026-10-31.csv.bz2 (local path or http(s) URL); "
        "repeatable",
    )  # fmt: skip
    p.add_argument("--resource", choices=_ResourceNames(),
                   metavar="RESOURCE",
                   help="the resource, when the file name does not say: %(choices)s")  # fmt: skip
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="keep only the scope's rows (evaluated on the file's columns)")
    p.add_argument("--all", action="store_true",
                   help="load every row even when the filters cannot be evaluated on the file")
    p.add_argument("--overlap", default="1d", type=duration_text("--overlap"),
                   help="the watermark is the export's date minus this (default 1d)")
    p.add_argument("--force", action="store_true", help="reload files loaded before")
    p.add_argument("--run-id", help="run id recorded with every row (default: new)")
    p.add_argument("--chunk-mb", type=float, default=8.0,
                   help="decompressed megabytes per transaction (default 8)")
    p.add_argument("--connections", type=int, default=2,
                   help="PostgreSQL: chunks merged at once, one connection each (default 2)")
    p.set_defaults(func=cmd_bootstrap)

    p = command("budget", "show used/limit/remaining per window")
    p.add_argument("--ledger-only", action="store_true", help="do not ask api-usage/")
    p.set_defaults(func=cmd_budget)

    p = command("migrate", "create or upgrade the target database schema")
    p.set_defaults(func=cmd_migrate)

    p = command("report", "write a self-contained HTML report from the ledger")
    p.add_argument("--out", default="report.html", help="where to write (default report.html)")
    p.add_argument("--since", help="start of the period (default: the last 7 days)")
    p.add_argument("--all-keys", action="store_true", help="include every token's calls")
    p.set_defaults(func=cmd_report)

    p = command("reset", "clear checkpoints of a resource (or scope) so its windows are refetched")
    p.add_argument("--resource", required=True, choices=_ResourceNames(), metavar="RESOURCE",
                   help="the resource whose checkpoints to clear: %(choices)s")  # fmt: skip
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="the scope's filters, as given to sync (default: the whole resource)")
    p.add_argument("--since", help="only windows ending after this instant")
    p.add_argument("--until", help="only windows starting before this instant")
    p.set_defaults(func=cmd_reset)

    if search:
        from courtflow.search import cli as search_cli

        search_cli.add_parser(command, prioritised)
        p = sub.choices["search"]
        p.set_defaults(func=cmd_search)
    else:
        # Listed for --help; its options (and SQLAlchemy, which courtflow.search.cli
        # imports) load only when the command is search: `courtflow --help` starts fast.
        command("search", "search-defined scopes over search/ (v4): run (default), plan, "
                "status or reset (courtflow search --help lists its options)")  # fmt: skip

    # Listed for --help; main() hands `courtflow sandbox ...` to the sandbox's own parser.
    sub.add_parser("sandbox", help="run the CourtListener sandbox server (see sandbox --help)")
    return parser


NEEDS_API = ("sync", "backfill", "plan", "audit")


def _json_logs(args: argparse.Namespace) -> bool:
    return bool(args.log_format == "json")


def _level(args: argparse.Namespace) -> int:
    if args.quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)


# The loggers JSON mode shows at default verbosity: start, progress, budget waits,
# retries and the summary (one event per call needs -v).
_JSON_DEFAULT_LOGGERS = ("courtflow.progress", "courtflow.cli")
EX_TEMPFAIL = 75  # sysexits.h: try again later (cron's "not now, not broken")


def _configure_logs(args: argparse.Namespace, secrets: tuple[Any, ...] = ()) -> None:
    configure_logging(_level(args), args.log_format, secrets=secrets)
    loud = _json_logs(args) and not args.quiet and not args.verbose
    for name in _JSON_DEFAULT_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if loud else logging.NOTSET)


def _error(
    args: argparse.Namespace, settings: Settings | None, message: str, code: int, *,
    error_class: str | None = None, hint: str | None = None, plain: bool = False,
    **fields: Any,
) -> int:  # fmt: skip
    """Tell an error (and what to do) on stderr: a line of text, or one JSON object.

    ``plain``: the text line leaves the class out (configuration mistakes, the unexpected).
    """
    from courtflow.redact import redact

    token = settings.token if settings else None
    message = redact(message, token)
    hint = redact(hint, token) if hint else None
    if _json_logs(args):
        logging.getLogger("courtflow.cli").error(
            message,
            extra={"event": "error", "error_class": error_class, "exit_code": code,
                   "hint": hint.removeprefix("hint: ") if hint else None, **fields},
        )  # fmt: skip
        return code
    named = f" ({error_class})" if error_class and not plain else ""
    print(f"error{named}: {message}", file=sys.stderr)
    if hint:
        print(hint, file=sys.stderr)
    return code


def exit_on_sigterm() -> None:
    """SIGTERM (cron's or systemd's timeout, ``kill``) ends the process as an error does:
    every ``finally`` runs, so its place in the budget's queue and its connections are
    given back at once instead of lingering for others to wait behind."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        # The sandbox has its own options; hand them over untouched.
        from courtflow.sandbox.__main__ import main as sandbox_main

        return sandbox_main(argv[1:])
    args = build_parser(search="search" in argv).parse_args(argv)
    from courtflow.config import Settings
    from courtflow.redact import redact
    from courtflow.run.hints import explain, no_token_message

    settings: Settings | None = None
    log_format = args.log_format or os.environ.get("COURTFLOW_LOG_FORMAT", "text").strip()
    if log_format not in LOG_FORMATS:
        print(f"error: COURTFLOW_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, "
              f"got {log_format!r}", file=sys.stderr)  # fmt: skip
        return 2
    args.log_format = log_format
    _configure_logs(args)
    if threading.current_thread() is threading.main_thread():
        exit_on_sigterm()
    try:
        settings = Settings.from_env()
        _configure_logs(args, secrets=(settings.token,) if settings.token else ())
        if args.command == "search":
            from courtflow.search import cli as search_cli

            search_cli.check(args)  # refused before any call, and before asking for a token
            if args.action in search_cli.NEEDS_API and settings.token is None:
                print(no_token_message(), file=sys.stderr)
                return 2
        if args.command in NEEDS_API:
            _scope(args)  # bad arguments are named first: they need no token to be found
            if args.command != "audit":
                _window(args)
            if args.command == "plan" or (args.command == "backfill" and not args.gaps):
                _given_window(args)
            if settings.token is None:
                text = no_token_message().removeprefix("error: ")
                return _error(args, settings, text, 2, error_class="ConfigError", plain=True)
        return int(args.func(args, settings))
    except (BudgetExhaustedError, ThrottledError) as exc:
        # Not broken, only not now: cron's "try again later" (EX_TEMPFAIL).
        back = getattr(exc, "available_at", None)
        if back is None:
            back = time.time() + float(getattr(exc, "retry_after", 0.0))
        return _error(args, settings, str(exc), EX_TEMPFAIL, error_class=type(exc).__name__,
                      hint=explain(exc, settings), room_at=_iso(back))  # fmt: skip
    except FatalError as exc:
        return _error(args, settings, str(exc), 2, error_class=type(exc).__name__,
                      hint=explain(exc, settings), plain=True)  # fmt: skip
    except CourtflowError as exc:
        return _error(args, settings, str(exc), 1, error_class=type(exc).__name__,
                      hint=explain(exc, settings))  # fmt: skip
    except KeyboardInterrupt:
        if not _json_logs(args):
            print(file=sys.stderr)  # off the ^C
        return _error(args, settings, "interrupted; rerun the same command to resume from the "
                      "last page", 130, error_class="KeyboardInterrupt")  # fmt: skip
    except Exception as exc:
        # Never a traceback for a user: one line, and the traceback only with -v.
        token = settings.token if settings else None
        detail = (str(exc).strip().splitlines() or [""])[0]
        code = _error(
            args, settings,
            f"unexpected {type(exc).__name__}: {redact(detail, token)[:500]}"
            f"{'' if args.verbose else ' (rerun with -v for the traceback)'}",
            1, error_class=type(exc).__name__, plain=True,
        )  # fmt: skip
        if args.verbose and not _json_logs(args):
            import traceback

            traceback.print_exc()
        return code


if __name__ == "__main__":
    sys.exit(main())
