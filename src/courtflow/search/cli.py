"""``courtflow search [run|plan|status|reset]``: search-defined scopes from the command line.

    courtflow search --type o --q "qualified immunity" --filter court=ca9 --since 2015-01-01
    courtflow search plan --type o --q "qualified immunity" --filter court=ca9 --since 2015-01-01
    courtflow search status
    courtflow search reset --type o --q "qualified immunity" --filter court=ca9
"""

from __future__ import annotations

import argparse
import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, func, select

from courtflow.catalogue.filters import parse_filter_items
from courtflow.catalogue.window import Window
from courtflow.config import Settings, duration_text
from courtflow.errors import ConfigError
from courtflow.search.form import PAGE_SIZE, TYPES
from courtflow.search.hydrate import hydration_plan
from courtflow.search.run import SearchOptions, run_search
from courtflow.search.scope import SearchScope
from courtflow.search.tables import search_matches
from courtflow.search.walk import MAX_WINDOW_HITS, SEARCH_PATH, plan_windows, read_page

ACTIONS = ("run", "plan", "status", "reset")
NEEDS_API = ("run", "plan")


def add_parser(command: Callable[[str, str], argparse.ArgumentParser],
               prioritised: Callable[[argparse.ArgumentParser, str], None]) -> None:  # fmt: skip
    p = command(
        "search",
        "search-defined scopes over search/ (v4): run (default), plan, status or reset",
    )
    p.add_argument("action", nargs="?", default="run", choices=ACTIONS,
                   help="run: walk the scope (default); plan: one count call and the cost; "
                   "status: every search scope's progress; reset: clear a scope's checkpoints")
    p.add_argument("--type", dest="search_type", metavar="TYPE",
                   help=f"search type: {', '.join(TYPES)} (o opinions, r RECAP dockets with "
                   "documents, rd RECAP documents, d dockets, p people, oa oral arguments)")
    p.add_argument("--q", default="", help="the query, as typed in CourtListener's search box")
    p.add_argument("--filter", action="append", metavar="NAME=VALUE",
                   help="a field of the server's search form, repeatable (court=ca9, "
                   "case_name=..., judge=...); checked before any call")
    p.add_argument("--since", help="first day of the scope's range (YYYY-MM-DD)")
    p.add_argument("--until", help="end of the range, exclusive (YYYY-MM-DD); without it the "
                   "run catches up to today, with the lookback")
    p.add_argument("--lookback-days", type=int, default=30,
                   help="catch-up runs walk again this many days before the watermark, for "
                   "documents indexed late (default 30)")
    p.add_argument("--as-of", metavar="DAY",
                   help="run as if today (UTC) were DAY (replays and tests)")
    p.add_argument("--refresh-older", action="store_true",
                   help="also walk again finished windows last walked more than 7 days ago "
                   "(hits whose index timestamp moved)")
    p.add_argument("--hydrate", action="store_true",
                   help="also sync the database records behind the hits (clusters and "
                   "opinions for o, dockets for r/d, ...), through the catalogue")
    p.add_argument("--max-window-hits", type=int, default=MAX_WINDOW_HITS,
                   help=f"split a window holding more hits before walking it "
                   f"(default {MAX_WINDOW_HITS})")
    p.add_argument("--run-id", help="run id recorded with every call and row (default: new)")
    p.add_argument("--json", action="store_true", help="status: one JSON object")
    p.add_argument(
        "--book-next", type=duration_text("--book-next"), metavar="DURATION",
        help="run from a scheduler every DURATION (1d): book this run's calls for the next "
        "one, so a backfill on the same token leaves it room to start at once",
    )  # fmt: skip
    prioritised(p, "incremental")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} must be a day YYYY-MM-DD, got {text!r}") from None


def scope_of(args: argparse.Namespace) -> SearchScope:
    if not args.search_type:
        raise ConfigError("--type is required (o, r, rd, d, p or oa)")
    return SearchScope.of(args.search_type, args.q or "", parse_filter_items(args.filter or ()))


def options_of(args: argparse.Namespace, scope: SearchScope) -> SearchOptions:
    since, until = _day(args.since, "--since"), _day(args.until, "--until")
    if since is None and scope.kind.date_filter is not None:
        raise ConfigError(f"--since is required for type {scope.type} (the first day to walk)")
    if args.lookback_days < 0:
        raise ConfigError("--lookback-days must not be negative")
    if args.max_window_hits < PAGE_SIZE:
        raise ConfigError(f"--max-window-hits must be at least {PAGE_SIZE}")
    if since is not None and until is not None and until <= since:
        raise ConfigError(f"--until {until} is not after --since {since}")
    return SearchOptions(
        since=since, until=until, today=_day(args.as_of, "--as-of"),
        lookback=timedelta(days=args.lookback_days), refresh_older=args.refresh_older,
        max_hits=args.max_window_hits, hydrate=args.hydrate,
    )  # fmt: skip


def check(args: argparse.Namespace) -> None:
    """Everything that can be refused before a call (and before asking for a token)."""
    if args.action in ("run", "plan", "reset"):
        scope = scope_of(args)
        if args.action != "reset":
            options_of(args, scope)
            _every(args)


def cmd_search(args: argparse.Namespace, settings: Settings, say: Callable[[str], None],
               observed: Any, open_progress: Any, json_logs: bool) -> int:  # fmt: skip
    if args.action == "status":
        return _status(args, settings)
    if args.action == "reset":
        return _reset(args, settings)
    from courtflow.observe.logs import log_context
    from courtflow.run.sync import open_pipeline

    scope = scope_of(args)
    options = options_of(args, scope)
    settings = settings.with_overrides(priority=args.priority or settings.priority
                                       or "incremental")  # fmt: skip
    kind = "search" if args.action == "run" else "plan"
    every = _every(args)
    started = datetime.now(UTC)
    run_id = args.run_id or f"{kind}__{uuid.uuid4().hex[:12]}"
    task_id = f"search.{scope.type}"
    with (
        log_context(run_id=run_id, task_id=task_id, resource=scope.kind.resource,
                    scope=scope.key),
        open_progress(f"search {scope.label}", enabled=not args.quiet and kind == "search",
                      as_log=json_logs) as progress,
        open_pipeline(settings, run_id=run_id, task_id=task_id,
                      gate_wrapper=observed(progress), on_retry=progress.on_retry) as p,
    ):  # fmt: skip
        progress.attach(p.budget)
        if args.action == "plan":
            return _plan(p, scope, options)
        result = run_search(
            p, scope, options, run_id=run_id,
            on_page=lambda _s, _w, hits: progress.on_rows(hits),
        )  # fmt: skip
        if every is not None and p.budget.book_next(result.calls, started + every) is not None:
            say(f"booked {result.calls} {p.budget.priority} calls for the next run, due "
                f"{(started + every).isoformat(timespec='seconds')}")  # fmt: skip
    say(result.human())
    print(json.dumps(result.as_dict()), flush=True)
    return 0


def _every(args: argparse.Namespace) -> timedelta | None:
    if not getattr(args, "book_next", None):
        return None
    from courtflow.config import parse_duration

    every = parse_duration(args.book_next, "--book-next")
    if every <= timedelta(0):
        raise ConfigError("--book-next must be a positive duration such as 1d")
    return every


def _plan(p: Any, scope: SearchScope, options: SearchOptions) -> int:
    today = options.today or datetime.now(UTC).date()
    plan = plan_windows(p.engine, scope, since=options.since, until=options.until, today=today,
                        lookback=options.lookback)  # fmt: skip
    print(f"{scope.label}: {len(plan.windows)} window(s) to walk")
    count = 0
    if plan.windows:
        span = Window(plan.windows[0].start, plan.windows[-1].end)
        payload, fetched, _ = p.client.fetch(SEARCH_PATH, None, scope.params(span))
        count = read_page(payload, fetched)[2] or 0
        pages = math.ceil(count / PAGE_SIZE)
        leaves = 1 if count <= options.max_hits else 2 ** math.ceil(
            math.log2(count / options.max_hits))
        measuring = leaves - 1 if leaves > 1 else 0
        # Even halves are the best case: hits bunched in time need more splits, each one
        # measuring call more (381 hits split at 100: 24 estimated, 33 spent here).
        print(f"  {span}: {count} hits -> about {pages + leaves} calls "
              f"({pages} pages, {leaves} window(s) after splits at {options.max_hits} hits, "
              f"{measuring} measuring call(s); more when hits bunch in time)")  # fmt: skip
        print("  (the count itself cost 1 call; windows already complete inside the span are "
              "skipped, so the run may spend less)")  # fmt: skip
    else:
        print("  every window is complete: a run now spends 0 calls (the plan spent none)")
    if options.hydrate:
        hp = hydration_plan(p.engine, scope)
        print(f"  hydration of stored hits: {hp.records} record(s) not stored yet -> at most "
              f"{hp.max_calls} calls ({', '.join(f'{k} {len(v)}' for k, v in hp.wanted.items())})")
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    rows = search_status(engine, args.search_type)
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    if not rows:
        print("no search scope has been run yet")
        return 0
    for r in rows:
        print(f"search/?type={r['type']}&{r['scope']}")
        print(f"  windows {r['done']} complete, {r['open']} open; {r['pages']} pages, "
              f"{r['calls']} calls; hits matched {r['matched']}; watermark "
              f"{r['watermark'] or '-'}")  # fmt: skip
    return 0


def search_status(engine: Engine, type_code: str | None = None) -> list[dict[str, Any]]:
    """One entry per search scope that has checkpoints."""
    from courtflow.store.tables import sync_checkpoints as c
    from courtflow.store.tables import sync_watermarks as w

    m = search_matches
    with engine.connect() as conn:
        stmt = select(
            c.c.resource, c.c.scope, func.count().label("windows"),
            func.sum(case((c.c.done.is_(True), 1), else_=0)).label("done"),
            func.sum(c.c.pages).label("pages"), func.sum(c.c.calls).label("calls"),
        ).where(c.c.resource.like("search:%")).group_by(c.c.resource, c.c.scope)  # fmt: skip
        if type_code:
            stmt = stmt.where(c.c.resource == f"search:{type_code}")
        out = []
        for row in conn.execute(stmt.order_by(c.c.resource, c.c.scope)):
            code = row.resource.split(":", 1)[1]
            matched = conn.execute(select(func.count()).select_from(m).where(
                m.c.type == code, m.c.scope == row.scope)).scalar_one()  # fmt: skip
            mark = conn.execute(select(w.c.watermark).where(
                w.c.resource == row.resource, w.c.scope == row.scope)).scalar()  # fmt: skip
            out.append({
                "type": code, "scope": row.scope, "windows": int(row.windows),
                "done": int(row.done or 0), "open": int(row.windows) - int(row.done or 0),
                "pages": int(row.pages or 0), "calls": int(row.calls or 0),
                "matched": int(matched), "watermark": mark.isoformat() if mark else None,
            })  # fmt: skip
    return out


def _reset(args: argparse.Namespace, settings: Settings) -> int:
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade
    from courtflow.store.reset import clear_checkpoints

    scope = scope_of(args)
    since, until = _day(args.since, "--since"), _day(args.until, "--until")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    cleared = clear_checkpoints(
        engine, scope.kind.resource, scope.key,
        since=None if since is None else datetime(since.year, since.month, since.day, tzinfo=UTC),
        until=None if until is None else datetime(until.year, until.month, until.day, tzinfo=UTC),
    )  # fmt: skip
    if not cleared:
        print(f"no checkpoint of {scope.label}: nothing cleared")
        return 0
    print(f"cleared {len(cleared)} checkpoint(s) of {scope.label}; their windows will be "
          "walked again (stored hits and matches stay)")  # fmt: skip
    return 0
