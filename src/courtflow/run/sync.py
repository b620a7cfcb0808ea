"""One window of one resource: budget -> page -> upsert + checkpoint, until done.

Each page's rows and its checkpoint (the ``next`` URL) commit in one transaction, so
a worker killed at any moment resumes at the page it lost and spends no call twice.
A completed window advances the resource's watermark. Every database step is retried
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
from typing import Any

from sqlalchemy import Engine

from courtflow.budget.budget import Budget
from courtflow.catalogue.resources import ResourceSpec
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window
from courtflow.client import CourtListenerClient
from courtflow.client.courtlistener import RetryListener
from courtflow.client.gate import CallGate
from courtflow.client.paging import Page
from courtflow.config import Settings
from courtflow.errors import NotFoundError
from courtflow.store import (
    Checkpoint,
    advance_watermark,
    get_checkpoint,
    save_checkpoint,
)
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.rejects import store_page
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
        }


PageListener = Callable[[ResourceSpec, Checkpoint, int], None]
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
) -> SyncResult:
    """Sync ``window`` of ``spec`` (or of its ``scope``) into its table, resuming from a
    saved checkpoint of that scope."""
    if scope is None:
        scope = Scope(spec.name)
    if scope.resource != spec.name:
        raise ValueError(f"scope {scope.label} is not a scope of {spec.name}")
    key = scope.key
    started = time.monotonic()

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
    pages = rows = calls = rejected = 0
    restart: list[bool] = []

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

        def commit(
            page: Page = page, previous: Checkpoint = previous
        ) -> tuple[int, int, Checkpoint]:
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
                )
                save_checkpoint(conn, cp, run_id)
                if cp.done:
                    advance_watermark(conn, spec.name, window.end, run_id, key)
            return stored.written, stored.rejected, cp

        written, refused, checkpoint = run_with_db_retry(
            engine, commit, db_retry, what="page commit"
        )
        pages, rows, calls = pages + 1, rows + written, calls + page.attempts
        rejected += refused
        log.info(
            "page stored",
            extra={
                "event": "page",
                "resource": spec.name,
                "scope": key,
                "window": str(window),
                "page": checkpoint.pages,
                "rows": written,
                "rejected": refused,
                "attempts": page.attempts,
                "done": done,
            },
        )
        if on_page is not None:
            on_page(spec, checkpoint, written)
        if refused and on_reject is not None:
            on_reject(spec, refused)
    return SyncResult(
        spec.name, window, pages, rows, calls, resumed, False, time.monotonic() - started, key,
        rejected=rejected, restarted=bool(restart),
    )


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
) -> Iterator[Pipeline]:
    """Engine (migrated), budget and client for one worker; closes the client after.

    ``on_retry`` hears every retry from the first call on (api-usage/ included).
    """
    if max_sleep is not None:
        settings = settings.with_overrides(max_sleep=max_sleep)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    budget = Budget.from_settings(settings, engine, run_id=run_id, task_id=task_id, dag_id=dag_id)
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
