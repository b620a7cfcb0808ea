"""One window of one resource: budget -> page -> upsert + checkpoint, until done.

Each page's rows and its checkpoint (the ``next`` URL) commit in one transaction, so
a worker killed at any moment resumes at the page it lost and spends no call twice.

No window reaches past the server's clock: its end is clamped to the server's time
(its ``Date`` header) less the settle lag, and a window wholly after that syncs nothing.
A completed window adds its range to what the scope has loaded (courtflow.store.state),
which moves the watermark only if it is contiguous with it. A window that rejects more
than ``max_reject_ratio`` of its records, or every record of one page, stops with
:class:`~courtflow.errors.TooManyRejectsError`: its checkpoint stays before that page,
so it is not marked loaded and a rerun meets the same records again. Every database step is retried
through a transient outage (courtflow.store.retry); records the target cannot hold are
set aside in ``sync_rejects`` and the window goes on (courtflow.store.rejects). A saved
cursor the server no longer accepts (404) restarts its window from the start.

>>> with open_pipeline(Settings.from_env()) as p:          # doctest: +SKIP
...     result = p.sync(get_resource("dockets"), Window(start, end), run_id="manual")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from courtflow.budget.budget import Budget
from courtflow.catalogue.resources import ResourceSpec
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window, clamp, iso
from courtflow.client import CourtListenerClient
from courtflow.client.courtlistener import RetryListener
from courtflow.client.gate import CallGate
from courtflow.client.paging import Page
from courtflow.config import DEFAULT_SETTLE_LAG, Settings
from courtflow.errors import NotFoundError, TooManyRejectsError
from courtflow.run.summary import Stored
from courtflow.store import (
    LOADED_FROM_START,
    Checkpoint,
    get_checkpoint,
    list_checkpoints,
    record_range,
    save_checkpoint,
)
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.rejects import PageStored, store_page
from courtflow.store.retry import DbRetryPolicy, run_with_db_retry

log = logging.getLogger("courtflow.sync")


@dataclass(frozen=True)
class SyncResult:
    """What one call to :func:`sync_window` did (this call only, not earlier attempts)."""

    resource: str
    window: Window
    pages: int
    rows: int
    calls: int
    resumed: bool
    skipped: bool  # the window was already complete: nothing fetched
    seconds: float
    scope: str = ""  # the scope's key ("" for the whole resource)
    rejected: int = 0  # records set aside in sync_rejects by this call
    restarted: bool = False  # the saved cursor was dead: the window was walked from its start
    future: bool = False  # the window starts after the server's clock less the lag
    new: int = 0  # rows this call inserted
    changed: int = 0  # rows this call replaced by a newer version
    unchanged: int = 0  # records this call read that the table already held as they are
    records: int = 0  # records this call read (stored, unchanged or rejected)
    watermark: datetime | None = None  # the scope's watermark after this call
    # The whole window's records and rejects, across resumed tries (its checkpoint).
    window_records: int = 0
    window_rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "scope": self.scope,
            "window": str(self.window),
            "pages": self.pages,
            "rows": self.rows,
            "calls": self.calls,
            "resumed": self.resumed,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "rejected": self.rejected,
            "restarted": self.restarted,
            "future": self.future,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
        }


# Called after each page with the window's checkpoint and what the page stored.
PageListener = Callable[[ResourceSpec, Checkpoint, Stored], None]
# Called with the number of records a page set aside in sync_rejects (only when > 0).
RejectListener = Callable[[ResourceSpec, int], None]


def sync_window(
    engine: Engine,
    client: CourtListenerClient,
    spec: ResourceSpec,
    window: Window,
    *,
    run_id: str | None,
    fields: Sequence[str] | None = None,
    omit: Sequence[str] | None = None,
    on_page: PageListener | None = None,
    scope: Scope | None = None,
    db_retry: DbRetryPolicy | None = None,
    on_reject: RejectListener | None = None,
    settle_lag: timedelta = DEFAULT_SETTLE_LAG,
    max_reject_ratio: float | None = None,
) -> SyncResult:
    """Sync ``window`` of ``spec`` (or of its ``scope``) into its table, resuming from a
    saved checkpoint of that scope.

    The window's end is first clamped to the server's clock less ``settle_lag`` (see the
    module docstring); ``max_reject_ratio`` None checks only the whole-page rule.
    """
    if scope is None:
        scope = Scope(spec.name)
    if scope.resource != spec.name:
        raise ValueError(f"scope {scope.label} is not a scope of {spec.name}")
    key = scope.key
    started = time.monotonic()
    limit = server_limit(client, settle_lag)
    clamped = clamp(window, limit)
    if clamped is None:
        log.info(
            "window %s starts after the server's clock less the settle lag (%s): "
            "nothing to read yet", window, iso(limit),
            extra={"event": "window_future", "resource": spec.name, "scope": key,
                   "window": str(window)},
        )  # fmt: skip
        return SyncResult(spec.name, window, 0, 0, 0, False, True, time.monotonic() - started,
                          key, future=True)  # fmt: skip
    if clamped != window:
        bound = clamped.end
        # The clamped end moves with the clock: an unfinished window of the same start
        # that this one covers is resumed rather than left behind (rerun to resume).
        def open_ends() -> list[datetime]:
            with engine.begin() as conn:
                return [cp.window_end for cp in list_checkpoints(conn, spec.name, key)
                        if not cp.done and cp.window_start == window.start
                        and cp.window_end <= bound]  # fmt: skip

        ends = run_with_db_retry(engine, open_ends, db_retry, what="checkpoint read")
        if ends:
            clamped = Window(window.start, max(ends))
        log.info("window %s clamped to %s (server clock less %s)", window, clamped, settle_lag,
                 extra={"event": "window_clamped", "resource": spec.name, "scope": key})
        window = clamped

    def read_checkpoint() -> Checkpoint | None:
        with engine.begin() as conn:
            return get_checkpoint(conn, spec.name, window.start, window.end, key)

    checkpoint = run_with_db_retry(engine, read_checkpoint, db_retry, what="checkpoint read")
    if checkpoint is not None and checkpoint.done:
        log.info(
            "window already complete; nothing to fetch",
            extra={
                "event": "window_skipped",
                "resource": spec.name,
                "scope": key,
                "window": str(window),
            },
        )
        return SyncResult(
            spec.name, window, 0, 0, 0, False, True, time.monotonic() - started, key
        )
    if checkpoint is None:
        checkpoint = Checkpoint(spec.name, window.start, window.end, scope=key)
    resumed = checkpoint.next_url is not None
    pages = rows = calls = rejected = new = unchanged = records = 0
    restart: list[bool] = []
    first_seen: list[datetime] = []  # the server's clock at this call's first page
    watermark: datetime | None = None

    def walk(resume_url: str | None) -> Iterator[Page]:
        return client.iter_pages(
            spec,
            since=window.start if spec.incremental else None,
            until=window.end if spec.incremental else None,
            resume_url=resume_url,
            fields=fields,
            omit=omit,
            filters=scope.params(),
        )

    for page in _resuming(walk, checkpoint, str(window), restart):
        done = page.next_url is None
        previous = checkpoint
        if not first_seen:
            first_seen.append(client.server_time or limit + settle_lag)

        def commit(
            page: Page = page, previous: Checkpoint = previous
        ) -> tuple[PageStored, Checkpoint, str | None, datetime | None]:
            with engine.begin() as conn:
                stored = store_page(conn, spec, page.results, run_id, scope=key, page_url=page.url)
                cp = Checkpoint(
                    resource=spec.name,
                    window_start=window.start,
                    window_end=window.end,
                    next_url=page.next_url,
                    pages=previous.pages + 1,
                    rows=previous.rows + stored.written,
                    calls=previous.calls + page.attempts,
                    done=page.next_url is None,
                    scope=key,
                    records=previous.records + len(page.results),
                    rejected=previous.rejected + stored.rejected,
                    new=previous.new + stored.new,
                )
                tripped = _rejection_rule(page, stored, cp, max_reject_ratio)
                if tripped is not None:
                    # The page's good rows and its rejects are kept; the checkpoint stays
                    # before it, so the window is not loaded and a rerun meets them again.
                    return stored, previous, tripped, None
                save_checkpoint(conn, cp, run_id)
                mark = None
                if cp.done:
                    mark = _record_loaded(conn, spec, window, first_seen[0] - settle_lag,
                                          run_id, key)  # fmt: skip
            return stored, cp, None, mark

        stored, checkpoint, tripped, mark = run_with_db_retry(
            engine, commit, db_retry, what="page commit"
        )
        watermark = mark or watermark
        pages, rows, calls = pages + 1, rows + stored.written, calls + page.attempts
        rejected += stored.rejected
        new += stored.new
        records += len(page.results)
        page_stored = Stored(stored.new, stored.changed,
                             len(page.results) - stored.written - stored.rejected)  # fmt: skip
        unchanged += page_stored.unchanged
        log.info(
            "page stored",
            extra={
                "event": "page",
                "resource": spec.name,
                "scope": key,
                "window": str(window),
                "page": checkpoint.pages,
                "rows": stored.written,
                "rejected": stored.rejected,
                "attempts": page.attempts,
                "done": done,
            },
        )
        if on_page is not None and tripped is None:
            on_page(spec, checkpoint, page_stored)
        if stored.rejected and on_reject is not None:
            on_reject(spec, stored.rejected)
        if tripped is not None:
            raise TooManyRejectsError(
                f"{scope.label} {window}: {tripped}; first reason: {stored.first_reason}. "
                "The window is not marked loaded (see sync_rejects, courtflow status)",
                reason=tripped,
            )
    if checkpoint.rejected:
        # Info: each record was logged as a warning already, and the CLI and the
        # operator report the total as a warning of their own.
        log.info(
            "%s %s: %d of %d records rejected (%.2f%%, within the threshold): see "
            "sync_rejects", scope.label, window, checkpoint.rejected, checkpoint.records,
            100 * checkpoint.rejected / max(checkpoint.records, 1),
            extra={"event": "rejects_below_threshold", "resource": spec.name, "scope": key},
        )  # fmt: skip
    return SyncResult(
        spec.name, window, pages, rows, calls, resumed, False, time.monotonic() - started, key,
        rejected=rejected, restarted=bool(restart), new=new, changed=rows - new,
        unchanged=unchanged, records=records, watermark=watermark,
        window_records=checkpoint.records, window_rejected=checkpoint.rejected,
    )


def server_limit(client: CourtListenerClient, settle_lag: timedelta) -> datetime:
    """The latest instant a window may reach: the server's clock (our own before its
    first answer) less the settle lag, in whole seconds as its Date header gives it."""
    now = client.server_now() or datetime.now(UTC)
    return (now - settle_lag).replace(microsecond=0)


# A page rejected whole says the records' shape changed, but only with enough of them:
# one broken record alone on a window's last page is the ratio rule's to judge.
WHOLE_PAGE_MIN = 5


def _rejection_rule(
    page: Page, stored: PageStored, cp: Checkpoint, max_ratio: float | None
) -> str | None:
    """Which rejection rule this page trips, if any (the message's first part)."""
    if len(page.results) >= WHOLE_PAGE_MIN and stored.rejected == len(page.results):
        return (f"every record of page {cp.pages} was rejected ({stored.rejected} of "
                f"{len(page.results)})")  # fmt: skip
    if cp.done and max_ratio is not None and cp.records and cp.rejected / cp.records > max_ratio:
        return (f"{cp.rejected} of {cp.records} records rejected "
                f"({100 * cp.rejected / cp.records:.2f}%, more than the "
                f"{100 * max_ratio:g}% allowed by --max-reject-ratio)")  # fmt: skip
    return None


def _record_loaded(
    conn: Any, spec: ResourceSpec, window: Window, read_to: datetime, run_id: str | None,
    scope: str,
) -> datetime | None:
    """Add what the finished window read to the scope's loaded ranges.

    It read no further than the server's clock at its first page less the settle lag
    (``read_to``): the window end was clamped with our best guess of that clock before
    any answer came. A whole-refresh walk read everything modified before its end.
    """
    start = window.start if spec.incremental else LOADED_FROM_START
    end = min(window.end, read_to)
    if end <= start:
        log.warning("%s %s: the server's clock is behind this window; nothing recorded as "
                    "loaded", spec.name, window)  # fmt: skip
        return None
    return record_range(conn, spec.name, start, end, run_id, scope)


def _resuming(
    walk: Callable[[str | None], Iterator[Page]],
    checkpoint: Checkpoint,
    window: str,
    restarted: list[bool],
) -> Iterator[Page]:
    """Pages from the checkpoint's cursor; if the server answers that saved cursor with
    404 (cursors expire, or a server upgrade changed their form), the window is walked
    again from its start instead of failing forever. Safe: upserts are idempotent.
    Appends True to ``restarted`` when that happened.
    """
    if checkpoint.next_url is None:
        yield from walk(None)
        return
    pages = walk(checkpoint.next_url)
    try:
        first = next(pages)
    except StopIteration:
        return
    except NotFoundError as exc:
        log.warning(
            "saved cursor of %s %s no longer accepted (%s): restarting the window from its start",
            checkpoint.resource, window, exc,
            extra={"event": "cursor_restart", "resource": checkpoint.resource,
                   "scope": checkpoint.scope, "window": window},
        )  # fmt: skip
        restarted.append(True)
        yield from walk(None)
        return
    yield first
    yield from pages


@dataclass
class Pipeline:
    """The parts one worker needs, built once from :class:`Settings`."""

    settings: Settings
    engine: Engine
    budget: Budget
    client: CourtListenerClient

    def sync(self, spec: ResourceSpec, window: Window, **kwargs: Any) -> SyncResult:
        kwargs.setdefault("db_retry", DbRetryPolicy(seconds=self.settings.db_retry_seconds))
        kwargs.setdefault("settle_lag", self.settings.settle_lag)
        kwargs.setdefault("max_reject_ratio", self.settings.max_reject_ratio)
        return sync_window(self.engine, self.client, spec, window, **kwargs)


@contextmanager
def open_pipeline(
    settings: Settings,
    *,
    run_id: str | None = None,
    task_id: str | None = None,
    dag_id: str | None = None,
    gate_wrapper: Callable[[CallGate], CallGate] | None = None,
    max_sleep: float | None = None,
    on_retry: RetryListener | None = None,
    hold_on_defer: bool = True,
) -> Iterator[Pipeline]:
    """Engine (migrated), budget and client for one worker; closes the client after.

    ``on_retry`` hears every retry from the first call on (api-usage/ included).
    ``hold_on_defer=False``: a caller that will not come back after a too-long wait (the
    CLI exits) gives its place in the budget's queue up (:class:`Budget`).
    """
    if max_sleep is not None:
        settings = settings.with_overrides(max_sleep=max_sleep)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    budget = Budget.from_settings(settings, engine, run_id=run_id, task_id=task_id, dag_id=dag_id,
                                  hold_on_defer=hold_on_defer)  # fmt: skip
    gate: CallGate = gate_wrapper(budget) if gate_wrapper else budget
    client = CourtListenerClient(settings, gate)
    if on_retry is not None:
        client.retry_listeners.append(on_retry)
    if settings.token is not None:
        # Usage made elsewhere with the same token counts: learn it now and after any 429.
        budget.usage_source = client.api_usage
        budget.sync_with_server()
    try:
        yield Pipeline(settings, engine, budget, client)
    finally:
        client.close()
        budget.close()  # give up this worker's place in the budget's queue
