"""``courtflow`` command line: sync | backfill | plan | bootstrap | budget | report | migrate |
sandbox."""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from courtflow.budget.budget import WindowUsage
from courtflow.budget.rates import Rate
from courtflow.config import Settings
from courtflow.errors import CourtflowError, FatalError
from courtflow.filters import parse_filter_items
from courtflow.redact import redact
from courtflow.resources import RESOURCES, ResourceSpec, get_resource
from courtflow.scope import Scope
from courtflow.store.retry import DbRetryPolicy, run_with_db_retry
from courtflow.store.state import Checkpoint
from courtflow.summary import summarize
from courtflow.sync import open_pipeline, sync_window
from courtflow.window import Window, check_step, parse_instant

PAGE_SIZE = 20  # the API's fixed page size on the main v4 endpoints


def _window(args: argparse.Namespace) -> Window:
    since = parse_instant(args.since, name="--since")
    until = parse_instant(args.until, name="--until") if args.until else datetime.now(UTC)
    return Window(since, until)


def _scope(args: argparse.Namespace) -> tuple[ResourceSpec, Scope]:
    """The resource and its scope; bad filters are refused here, before any call."""
    spec = get_resource(args.resource)
    return spec, Scope.of(spec, parse_filter_items(args.filter or ()))


def _split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _with_priority(args: argparse.Namespace, settings: Settings, default: str) -> Settings:
    """The budget class of this command's calls: --priority, COURTFLOW_PRIORITY, default."""
    return settings.with_overrides(priority=args.priority or settings.priority or default)


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    settings = _with_priority(args, settings, "incremental")
    spec, scope = _scope(args)
    window = _window(args)
    run_id = args.run_id or f"cli__{uuid.uuid4().hex[:12]}"
    with open_pipeline(settings, run_id=run_id, task_id=f"sync.{spec.name}") as p:
        result = sync_window(
            p.engine,
            p.client,
            spec,
            window,
            run_id=run_id,
            fields=_split_csv(args.fields),
            omit=_split_csv(args.omit),
            scope=scope,
            db_retry=DbRetryPolicy(seconds=settings.db_retry_seconds),
        )
        summary = summarize(p.engine, [spec], run_ids=[run_id])
    print(
        f"synced {scope.label} {window}: {result.pages} pages, {result.rows} rows, "
        f"{result.calls} calls{' (resumed)' if result.resumed else ''}"
        f"{' (already complete)' if result.skipped else ''}"
        f"{' (saved cursor was dead: window restarted)' if result.restarted else ''}"
        f"{f', {result.rejected} records rejected' if result.rejected else ''}",
        file=sys.stderr,
    )
    print(summary.human(), file=sys.stderr)
    print(summary.as_json(), flush=True)
    return 0


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    settings = _with_priority(args, settings, "backfill")
    spec, scope = _scope(args)
    window = _window(args)
    step = check_step(args.step_hours, window)
    windows = list(window.split(step)) if spec.incremental else [window]
    run_id = args.run_id or f"backfill__{uuid.uuid4().hex[:12]}"
    progress = BackfillProgress(total_windows=len(windows))
    with open_pipeline(settings, run_id=run_id, task_id=f"backfill.{spec.name}") as p:

        def on_page(_spec: ResourceSpec, _cp: Checkpoint, written: int) -> None:
            progress.page(written)
            progress.show(p.budget.rates, p.budget.usage())

        for sub in windows:
            result = sync_window(
                p.engine, p.client, spec, sub, run_id=run_id, on_page=on_page, scope=scope,
                db_retry=DbRetryPolicy(seconds=settings.db_retry_seconds),
            )
            progress.window_done(result.calls, result.skipped)
            progress.show(p.budget.rates, p.budget.usage())
        print(file=sys.stderr)
        summary = summarize(p.engine, [spec], run_ids=[run_id])
    print(summary.human(), file=sys.stderr)
    print(summary.as_json(), flush=True)
    return 0


class BackfillProgress:
    """A one-line progress bar: windows, rows, calls, and the ETA the budget allows."""

    def __init__(self, total_windows: int) -> None:
        self.total = total_windows
        self.done = self.fetched = self.rows = self.calls = self.pages = 0
        self.started = time.monotonic()

    def page(self, rows: int) -> None:
        self.rows += rows
        self.pages += 1

    def window_done(self, calls: int, skipped: bool) -> None:
        self.done += 1
        self.calls += calls
        self.fetched += 0 if skipped else 1

    def eta_seconds(self, rates: Sequence[Rate], usage: Sequence[WindowUsage]) -> float | None:
        """Remaining calls (pages per fetched window so far) at the pace the rates allow."""
        if self.fetched == 0:
            return None
        remaining_calls = self.calls / self.fetched * (self.total - self.done)
        elapsed = time.monotonic() - self.started
        by_speed = elapsed / self.done * (self.total - self.done)
        room = {u.rate: u.remaining for u in usage}
        by_budget = max(
            (
                max(0.0, remaining_calls - room.get(r.text, r.limit)) / r.limit * r.period
                for r in rates
                if r.limit > 0
            ),
            default=0.0,
        )
        return max(by_speed, by_budget)

    def show(self, rates: Sequence[Rate], usage: Sequence[WindowUsage]) -> None:
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        eta = self.eta_seconds(rates, usage)
        left = " ".join(f"{u.rate}:{u.remaining}/{u.limit}" for u in usage)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} windows "
            f"rows={self.rows} pages={self.pages} calls={self.calls} "
            f"elapsed={time.monotonic() - self.started:.0f}s "
            f"eta={'?' if eta is None else f'{eta:.0f}s'} budget {left}  "
        )
        sys.stderr.flush()


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    spec, scope = _scope(args)
    window = _window(args)
    run_id = f"plan__{uuid.uuid4().hex[:12]}"
    with open_pipeline(settings, run_id=run_id, task_id="plan") as p:
        # A whole-refresh resource ignores the window, as `sync` does.
        count = p.client.count(
            spec,
            since=window.start if spec.incremental else None,
            until=window.end if spec.incremental else None,
            filters=scope.params(),
        )
        pages = max(1, math.ceil(count / PAGE_SIZE))
        rates = p.budget.rates
    # The slowest window decides how long the budget needs to serve the pages.
    hours = max(r.period * pages / r.limit for r in rates) / 3600 if rates else float("nan")
    print(f"{scope.label} {window}: {count} records -> about {pages} calls (page size {PAGE_SIZE})")
    print("  (the count itself cost 1 call; retries would add more)")
    print(f"  at {', '.join(r.text for r in rates)}: about {hours:.2f} h of budget")
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
        room = "now" if w.available_at <= now else (
            f"in {w.available_at - now:.1f}s "
            f"({datetime.fromtimestamp(w.available_at, UTC).isoformat(timespec='seconds')})"
        )
        print(f"  {w.rate:<12} used {w.used}/{w.limit} remaining {w.remaining} room {room}")
    _print_classes(engine, settings.budget_key)
    if settings.token is not None and not args.ledger_only:
        from courtflow.client import CourtListenerClient

        with CourtListenerClient(settings) as client:
            usage = client.api_usage()
        print("server (api-usage/):")
        for uw in usage.user_windows:
            print(
                f"  {uw.rate:<12} used {uw.used}/{uw.limit} remaining {uw.remaining} "
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
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade
    from courtflow.store.reset import clear_checkpoints

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


def parse_overlap(text: str) -> timedelta:
    """``1d``, ``12h``, ``30m``, ``90s`` or ``0``: how far before the export's date the
    API resumes."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    value = text.strip().lower()
    try:
        if value == "0":
            return timedelta(0)
        number = float(value[:-1])
        seconds = number * units[value[-1]]
    except (KeyError, ValueError, IndexError):
        raise FatalError(f"--overlap {text!r}: expected a duration such as 1d, 12h or 30m") \
            from None
    if seconds < 0:
        raise FatalError(f"--overlap {text!r} must not be negative")
    return timedelta(seconds=seconds)


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from courtflow.bootstrap import BootstrapOptions, bootstrap
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    run_id = args.run_id or f"bootstrap__{uuid.uuid4().hex[:12]}"
    options = BootstrapOptions(
        resource=args.resource,
        filters=parse_filter_items(args.filter or ()),
        load_all=args.all,
        overlap=parse_overlap(args.overlap),
        run_id=run_id,
        force=args.force,
        progress=not args.quiet,
        chunk_bytes=max(1, int(args.chunk_mb * (1 << 20))),
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
        print(f"{r.file} -> {r.resource}{'?' + r.scope if r.scope else ''}: {state}{mark}",
              file=sys.stderr)  # fmt: skip
    specs = [get_resource(name) for name in dict.fromkeys(r.resource for r in results)]
    summary = summarize(engine, specs, run_ids=[run_id])
    print(summary.human(), file=sys.stderr)
    line = json.loads(summary.as_json())
    line["bulk"] = {
        "files": len(results),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="courtflow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every API call")
    sub = parser.add_subparsers(dest="command", required=True)

    def windowed(p: argparse.ArgumentParser) -> None:
        p.add_argument("--resource", required=True, choices=sorted(RESOURCES))
        p.add_argument("--since", required=True, help="window start, ISO 8601 (UTC if no zone)")
        p.add_argument("--until", help="window end (exclusive); default now")
        p.add_argument(
            "--filter",
            action="append",
            metavar="NAME=VALUE",
            help="server-side filter of the scope, repeatable (e.g. court=scotus, "
            "date_filed__gte=2020-01-01); checked before any call",
        )

    def prioritised(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument(
            "--priority",
            type=_priority,
            metavar="CLASS",
            help=f"budget class: interactive, incremental or backfill (default {default})",
        )

    p = sub.add_parser("sync", help="sync one window of one resource")
    windowed(p)
    prioritised(p, "incremental")
    p.add_argument("--run-id")
    p.add_argument("--fields", help="comma-separated fields to keep")
    p.add_argument("--omit", help="comma-separated fields to drop")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("backfill", help="sync a long range window by window; resumable")
    windowed(p)
    prioritised(p, "backfill")
    p.add_argument("--step-hours", type=float, default=24.0, help="window size (default 24)")
    p.add_argument("--run-id", help="reuse to resume a stopped backfill's accounting")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("plan", help="estimate the calls a range needs and the budget time")
    windowed(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "bootstrap",
        help="first load from CourtListener's bulk CSV exports (no API call), then set "
        "the watermark so sync continues from the export's date",
    )
    p.add_argument(
        "--file", action="append", required=True, metavar="PATH_OR_URL",
        help="an export file, e.g. dockets-2026-10-31.csv.bz2 (local path or http(s) URL); "
        "repeatable",
    )  # fmt: skip
    p.add_argument("--resource", choices=sorted(RESOURCES),
                   help="the resource, when the file name does not say")  # fmt: skip
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="keep only the scope's rows (evaluated on the file's columns)")
    p.add_argument("--all", action="store_true",
                   help="load every row even when the filters cannot be evaluated on the file")
    p.add_argument("--overlap", default="1d",
                   help="the watermark is the export's date minus this (default 1d)")
    p.add_argument("--force", action="store_true", help="reload files loaded before")
    p.add_argument("--run-id")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--chunk-mb", type=float, default=8.0,
                   help="decompressed megabytes per transaction (default 8)")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("budget", help="show used/limit/remaining per window")
    p.add_argument("--ledger-only", action="store_true", help="do not ask api-usage/")
    p.set_defaults(func=cmd_budget)

    p = sub.add_parser("migrate", help="create or upgrade the target database schema")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("report", help="write a self-contained HTML report from the ledger")
    p.add_argument("--out", default="report.html")
    p.add_argument("--since", help="start of the period (default: the last 7 days)")
    p.add_argument("--all-keys", action="store_true", help="include every token's calls")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "reset", help="clear checkpoints of a resource (or scope) so its windows are refetched"
    )
    p.add_argument("--resource", required=True, choices=sorted(RESOURCES))
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="the scope's filters, as given to sync (default: the whole resource)")
    p.add_argument("--since", help="only windows ending after this instant")
    p.add_argument("--until", help="only windows starting before this instant")
    p.set_defaults(func=cmd_reset)

    # Listed for --help; main() hands `courtflow sandbox ...` to the sandbox's own parser.
    sub.add_parser("sandbox", help="run the CourtListener sandbox server (see sandbox --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        # The sandbox has its own options; hand them over untouched.
        from courtflow.sandbox.__main__ import main as sandbox_main

        return sandbox_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings))
    except FatalError as exc:
        token = settings.token if settings else None
        print(f"error: {redact(str(exc), token)}", file=sys.stderr)
        return 2
    except CourtflowError as exc:
        token = settings.token if settings else None
        print(f"error ({type(exc).__name__}): {redact(str(exc), token)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume from the last page", file=sys.stderr)
        return 130
    except Exception as exc:
        # Never a traceback for a user: one line, and the traceback only with -v.
        token = settings.token if settings else None
        detail = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"error: unexpected {type(exc).__name__}: {redact(detail, token)[:500]}"
            f"{'' if args.verbose else ' (rerun with -v for the traceback)'}",
            file=sys.stderr,
        )
        if args.verbose:
            traceback.print_exc()
        return 1



if __name__ == "__main__":
    sys.exit(main())
