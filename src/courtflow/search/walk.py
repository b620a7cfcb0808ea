"""Walking a search scope: windows by the type's own date, a checkpoint per page.

A scope's range is walked as whole-UTC-day windows ``[start, end)`` ordered oldest first
by the type's date (``order_by=dateFiled asc`` for o/r/d, ``entry_date_filed asc`` for
rd, ``dateArgued asc`` for oa; people, who have no such date, are walked whole by name).
Each page's hits, this scope's matches of them and the page's ``next`` cursor commit in
one transaction (checkpoints of resource ``search:<type>``, keyed by the scope), so a
walk killed at any moment resumes at the page it lost. A saved cursor the server no
longer accepts (404 "Invalid cursor") restarts its window from the start.

**The split rule.** The first page of a window that has never been walked is fetched
alone: its ``count`` says how many hits the window holds. When that count is above
``max_hits`` (default 1,000 hits = 50 pages) and the window spans at least two days, the
window is not walked: its two halves (split at the middle day) are recorded as planned
windows and each is measured and walked (or split again) in turn. The measuring page of
a split window is the rule's only cost, one call per split. Why: a long cursor walk
over a live index misses hits indexed mid-walk with earlier sort keys, a dead cursor
costs its whole walk again, ``count`` turns into an estimate at 10,000 hits
(ELASTICSEARCH_MAX_RESULT_COUNT) so a bigger window cannot even be checked for
completeness; short windows keep every walk short, resumable and checkable. One day is
never split (the form's date filters are whole days): a single day above the limit is
walked whole, and a warning says so when its count is an estimate.

**Which windows a run walks** (:func:`plan_windows`): the gaps of ``[since, end)`` that no
finished window of the scope covers yet, windows left unfinished by an earlier run, and,
for a catch-up run (no ``--until``, a watermark before the end of today), the catch-up
window ``[watermark - lookback, today + 1 day)``: filings since the watermark plus a
lookback (default 30 days) for documents the server indexed late. A finished window
moves the watermark to its end (today + 1 day), so a second run on the same day has no
catch-up window and spends 0 calls; the next day's run has one again.
``refresh_older`` re-walks finished windows before the catch-up window whose last walk is
older than ``refresh_every`` (default 7 days), to pick up hits whose index ``timestamp``
moved (edits): the slower schedule of the sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete

from courtflow.catalogue.window import Window
from courtflow.client import CourtListenerClient
from courtflow.client.retry import describe_url
from courtflow.errors import BadPayloadError, ConfigError, NotFoundError
from courtflow.search.form import EXACT_COUNT_LIMIT, PAGE_SIZE
from courtflow.search.scope import SearchScope
from courtflow.search.store import store_hits
from courtflow.store.retry import DbRetryPolicy, run_with_db_retry
from courtflow.store.state import (
    Checkpoint,
    get_checkpoint,
    get_watermark,
    list_checkpoints,
    record_range,
    save_checkpoint,
)
from courtflow.store.tables import sync_checkpoints

log = logging.getLogger("courtflow.search")

SEARCH_PATH = "search/"
MAX_WINDOW_HITS = 1_000  # 50 pages of 20
DEFAULT_LOOKBACK = timedelta(days=30)
DEFAULT_REFRESH_EVERY = timedelta(days=7)
EARLIEST = date(1600, 1, 1)  # a scope without --since (people): from the beginning


@dataclass(frozen=True)
class SearchPage:
    results: tuple[dict[str, Any], ...]
    next_url: str | None
    url: str
    attempts: int
    count: int | None


def read_page(payload: Any, url: str) -> tuple[tuple[dict[str, Any], ...], str | None, int | None]:
    """Results, ``next`` and ``count`` of one ``search/`` response."""
    where = describe_url(url)
    if not isinstance(payload, dict):
        raise BadPayloadError(f"GET {where}: expected a JSON object")
    results = payload.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise BadPayloadError(f"GET {where}: 'results' is missing or not a list of objects")
    next_url = payload.get("next")
    if next_url is not None and not (isinstance(next_url, str) and next_url):
        raise BadPayloadError(f"GET {where}: 'next' is not a URL: {next_url!r}")
    count = payload.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise BadPayloadError(f"GET {where}: 'count' is not an integer: {count!r}")
    return tuple(results), next_url, count


@dataclass(frozen=True)
class WindowResult:
    """What one window of one run did (this run only)."""

    window: Window
    pages: int = 0
    hits: int = 0
    written: int = 0  # hit rows inserted or changed
    new_matches: int = 0
    calls: int = 0
    count: int | None = None  # the server's count, when this run measured it
    resumed: bool = False
    skipped: bool = False  # finished before: nothing fetched
    split: bool = False  # measured, then split into halves (walked as their own windows)
    restarted: bool = False  # the saved cursor was dead: walked again from the start

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": str(self.window), "pages": self.pages, "hits": self.hits,
            "written": self.written, "new_matches": self.new_matches, "calls": self.calls,
            "count": self.count, "resumed": self.resumed, "skipped": self.skipped,
            "split": self.split, "restarted": self.restarted,
        }  # fmt: skip


PageListener = Callable[[SearchScope, Window, int], None]  # hits of the page just stored


@dataclass
class SearchWalker:
    """Walks windows of one scope; one per worker (not thread-safe)."""

    engine: Engine
    client: CourtListenerClient
    scope: SearchScope
    run_id: str | None
    max_hits: int = MAX_WINDOW_HITS
    db_retry: DbRetryPolicy | None = None
    on_page: PageListener | None = None
    results: list[WindowResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_hits < PAGE_SIZE:
            raise ConfigError(f"max hits per window must be at least {PAGE_SIZE}")

    @property
    def resource(self) -> str:
        return self.scope.kind.resource

    # -- one window, or its parts ---------------------------------------------------------

    def walk(self, window: Window) -> list[WindowResult]:
        """Walk ``window`` (resuming, skipping or splitting as its state says)."""
        before = len(self.results)
        self._window(window)
        return self.results[before:]

    def _window(self, window: Window) -> None:
        cp = self._db(lambda: self._checkpoint(window), "checkpoint read")
        if cp is not None and cp.done:
            self._tell("window already complete; nothing to fetch", "window_skipped", window)
            self.results.append(WindowResult(window, skipped=True))
            return
        if cp is not None and cp.next_url is not None:
            self._resume(window, cp)
            return
        if self._splittable(window):
            halves = _halves(window)
            if self._db(lambda: self._recorded(halves), "checkpoint read"):
                # Split by an earlier run (its halves are recorded): walk them instead.
                for half in halves:
                    self._window(half)
                self._db(lambda: self._close(window), "split record")
                return
        first = self._first(window)
        if first.count is not None and first.count > self.max_hits and self._splittable(window):
            halves = _halves(window)
            self._db(lambda: self._plan(halves), "split record")
            log.info(
                "window holds %d hits (> %d): split in two before walking", first.count,
                self.max_hits,
                extra={"event": "window_split", "resource": self.resource,
                       "scope": self.scope.key, "window": str(window), "count": first.count},
            )  # fmt: skip
            self.results.append(WindowResult(window, calls=first.attempts, count=first.count,
                                             split=True))  # fmt: skip
            for half in halves:
                self._window(half)
            self._db(lambda: self._close(window), "split record")
            return
        if first.count is not None and first.count >= EXACT_COUNT_LIMIT:
            log.warning(
                "one day of %s holds about %d hits: walked whole; the server's count is an "
                "estimate at this size", self.scope.label, first.count,
                extra={"event": "window_estimate", "window": str(window)},
            )  # fmt: skip
        start = Checkpoint(self.resource, window.start, window.end, scope=self.scope.key)
        self._pages(window, start, _chain(first, self._follow(first.next_url)),
                    count=first.count, resumed=False, restarted=False)  # fmt: skip

    def _resume(self, window: Window, cp: Checkpoint) -> None:
        assert cp.next_url is not None
        pages = self._follow(cp.next_url)
        try:
            first = next(pages)
        except StopIteration:  # pragma: no cover - _follow yields at least once
            return
        except NotFoundError as exc:
            log.warning(
                "saved cursor of %s %s no longer accepted (%s): restarting the window",
                self.scope.label, window, exc,
                extra={"event": "cursor_restart", "resource": self.resource,
                       "scope": self.scope.key, "window": str(window)},
            )  # fmt: skip
            fresh = self._first(window)
            start = Checkpoint(self.resource, window.start, window.end, scope=self.scope.key)
            self._pages(window, start, _chain(fresh, self._follow(fresh.next_url)),
                        count=fresh.count, resumed=False, restarted=True)  # fmt: skip
            return
        self._pages(window, cp, _chain(first, pages), count=None, resumed=True, restarted=False)

    def _pages(
        self, window: Window, cp: Checkpoint, pages: Iterator[SearchPage], *,
        count: int | None, resumed: bool, restarted: bool,
    ) -> None:  # fmt: skip
        n = hits = written = new = calls = 0
        kind, key = self.scope.kind, self.scope.key
        for page in pages:
            previous = cp

            def commit(page: SearchPage = page, previous: Checkpoint = previous) -> Any:
                with self.engine.begin() as conn:
                    stored = store_hits(conn, kind, key, page.results, self.run_id)
                    saved = Checkpoint(
                        resource=self.resource, window_start=window.start,
                        window_end=window.end, next_url=page.next_url,
                        pages=previous.pages + 1, rows=previous.rows + stored.hits,
                        calls=previous.calls + page.attempts, done=page.next_url is None,
                        scope=key,
                    )  # fmt: skip
                    save_checkpoint(conn, saved, self.run_id)
                    if saved.done:
                        record_range(conn, self.resource, window.start, window.end, self.run_id,
                                     key)
                return stored, saved

            stored, cp = self._db(commit, "page commit")
            n, hits, calls = n + 1, hits + stored.hits, calls + page.attempts
            written, new = written + stored.written, new + stored.new_matches
            log.info(
                "search page stored",
                extra={"event": "page", "resource": self.resource, "scope": key,
                       "window": str(window), "page": cp.pages, "rows": stored.hits,
                       "written": stored.written, "attempts": page.attempts, "done": cp.done},
            )  # fmt: skip
            if self.on_page is not None:
                self.on_page(self.scope, window, stored.hits)
        self.results.append(WindowResult(window, n, hits, written, new, calls, count,
                                         resumed=resumed, restarted=restarted))  # fmt: skip

    # -- calls ------------------------------------------------------------------------------

    def _first(self, window: Window) -> SearchPage:
        return self._get(None, self.scope.params(window))

    def _follow(self, url: str | None) -> Iterator[SearchPage]:
        seen: set[str] = set()
        while url is not None:
            if url in seen:
                from courtflow.errors import CursorLoopError

                raise CursorLoopError(f"search/: 'next' leads back to a page of this walk: {url}")
            seen.add(url)
            page = self._get(url, None)
            yield page
            url = page.next_url

    def _get(self, url: str | None, params: Mapping[str, str] | None) -> SearchPage:
        payload, fetched, attempts = self.client.fetch(SEARCH_PATH, url, params)
        results, next_url, count = read_page(payload, fetched)
        return SearchPage(results, next_url, fetched, attempts, count)

    # -- state ------------------------------------------------------------------------------

    def _db(self, fn: Callable[[], Any], what: str) -> Any:
        return run_with_db_retry(self.engine, fn, self.db_retry, what=what)

    def _checkpoint(self, window: Window) -> Checkpoint | None:
        with self.engine.begin() as conn:
            return get_checkpoint(conn, self.resource, window.start, window.end, self.scope.key)

    def _recorded(self, halves: tuple[Window, Window]) -> bool:
        """Whether a half has a checkpoint: a split records both halves at once."""
        with self.engine.begin() as conn:
            return any(
                get_checkpoint(conn, self.resource, w.start, w.end, self.scope.key) is not None
                for w in halves
            )

    def _plan(self, halves: tuple[Window, Window]) -> None:
        with self.engine.begin() as conn:
            for half in halves:
                if get_checkpoint(conn, self.resource, half.start, half.end, self.scope.key):
                    continue
                save_checkpoint(conn, Checkpoint(self.resource, half.start, half.end,
                                                 scope=self.scope.key), self.run_id)  # fmt: skip

    def _close(self, window: Window) -> None:
        """Both halves are walked: a recorded split window is complete too."""
        with self.engine.begin() as conn:
            cp = get_checkpoint(conn, self.resource, window.start, window.end, self.scope.key)
            if cp is not None and not cp.done:
                save_checkpoint(conn, replace(cp, done=True), self.run_id)

    def _splittable(self, window: Window) -> bool:
        return self.scope.kind.date_filter is not None and (window.end - window.start).days >= 2

    def _tell(self, message: str, event: str, window: Window) -> None:
        log.info(message, extra={"event": event, "resource": self.resource,
                                 "scope": self.scope.key, "window": str(window)})  # fmt: skip


def _chain(first: SearchPage, rest: Iterator[SearchPage]) -> Iterator[SearchPage]:
    yield first
    if first.next_url is not None:
        yield from rest


def _halves(window: Window) -> tuple[Window, Window]:
    days = (window.end - window.start).days
    middle = window.start + timedelta(days=days // 2)
    return Window(window.start, middle), Window(middle, window.end)


# -- which windows a run walks -------------------------------------------------------------


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class RunPlan:
    windows: tuple[Window, ...]
    catch_up: Window | None
    watermark: datetime | None
    refreshed: int  # finished windows cleared for the refresh sweep


def plan_windows(
    engine: Engine,
    scope: SearchScope,
    *,
    since: date | None,
    until: date | None,
    today: date,
    lookback: timedelta = DEFAULT_LOOKBACK,
    refresh_older: bool = False,
    refresh_every: timedelta = DEFAULT_REFRESH_EVERY,
    now: datetime | None = None,
) -> RunPlan:
    """The windows of one run, oldest first (see the module's doc). No call is made."""
    resource, key = scope.kind.resource, scope.key
    first = since or EARLIEST
    end = day_start(until) if until is not None else day_start(today + timedelta(days=1))
    if end <= day_start(first):
        raise ConfigError(f"--until {until} is not after --since {first}")
    with engine.begin() as conn:
        watermark = get_watermark(conn, resource, key)
    catch_up = None
    # Only when the watermark is behind the run's end: the day's first run after a load
    # (or after the day's catch-up) has nothing new to ask for.
    if until is None and watermark is not None and watermark < end:
        start = max(day_start(first), min(watermark, end) - _days(lookback))
        if start < end:
            catch_up = Window(start, end)
    older_end = catch_up.start if catch_up is not None else end
    refreshed = 0
    if refresh_older:
        cutoff = (now or datetime.now(UTC)) - refresh_every
        refreshed = _clear_stale(engine, resource, key, older_end, cutoff)
    with engine.begin() as conn:
        cps = list_checkpoints(conn, resource, key)
    covered = sorted(Window(c.window_start, c.window_end) for c in cps)
    unfinished = [
        Window(c.window_start, c.window_end) for c in cps
        if not c.done and c.window_start >= day_start(first) and c.window_end <= older_end
        and not any(
            o.start <= c.window_start and c.window_end <= o.end
            and (o.start, o.end) != (c.window_start, c.window_end) for o in covered
        )
    ]  # fmt: skip
    windows = _gaps(Window(day_start(first), older_end), covered) + unfinished
    windows.sort()
    if catch_up is not None:
        windows.append(catch_up)
    return RunPlan(tuple(windows), catch_up, watermark, refreshed)


def _days(span: timedelta) -> timedelta:
    return timedelta(days=max(0, span.days))


def _gaps(target: Window, covered: list[Window]) -> list[Window]:
    """Parts of ``target`` no recorded window overlaps."""
    out: list[Window] = []
    cursor = target.start
    for w in sorted(covered):
        if w.end <= cursor or w.start >= target.end:
            continue
        if w.start > cursor:
            out.append(Window(cursor, min(w.start, target.end)))
        cursor = max(cursor, w.end)
        if cursor >= target.end:
            break
    if cursor < target.end:
        out.append(Window(cursor, target.end))
    return out


def _clear_stale(engine: Engine, resource: str, key: str, before: datetime,
                 cutoff: datetime) -> int:  # fmt: skip
    t = sync_checkpoints
    with engine.begin() as conn:
        result = conn.execute(
            delete(t).where(
                t.c.resource == resource, t.c.scope == key, t.c.done.is_(True),
                t.c.window_end <= before, t.c.updated_at < cutoff,
            )
        )  # fmt: skip
        return int(result.rowcount or 0)


def elapsed(started: float) -> float:
    return time.monotonic() - started
