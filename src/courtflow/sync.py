"""One window of one resource: budget -> page -> upsert + checkpoint, until done.

Each page's rows and its checkpoint (the ``next`` URL) commit in one transaction, so
a worker killed at any moment resumes at the page it lost and spends no call twice.
A completed window advances the resource's watermark.

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
from courtflow.client import CourtListenerClient
from courtflow.client.courtlistener import RetryListener
from courtflow.client.gate import CallGate
from courtflow.config import Settings
from courtflow.resources import ResourceSpec
from courtflow.scope import Scope
from courtflow.store import (
    Checkpoint,
    advance_watermark,
    get_checkpoint,
    save_checkpoint,
    upsert_rows,
)
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.window import Window

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
        }


PageListener = Callable[[ResourceSpec, Checkpoint, int], None]


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
) -> SyncResult:
    """Sync ``window`` of ``spec`` (or of its ``scope``) into its table, resuming from a
    saved checkpoint of that scope."""
    if scope is None:
        scope = Scope(spec.name)
    if scope.resource != spec.name:
        raise ValueError(f"scope {scope.label} is not a scope of {spec.name}")
    key = scope.key
    started = time.monotonic()
    with engine.begin() as conn:
        checkpoint = get_checkpoint(conn, spec.name, window.start, window.end, key)
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
    pages = rows = calls = 0
    for page in client.iter_pages(
        spec,
        since=window.start if spec.incremental else None,
        until=window.end if spec.incremental else None,
        resume_url=checkpoint.next_url,
        fields=fields,
        omit=omit,
        filters=scope.params(),
    ):
        done = page.next_url is None
        with engine.begin() as conn:
            written = upsert_rows(conn, spec, page.results, run_id)
            checkpoint = Checkpoint(
                resource=spec.name,
                window_start=window.start,
                window_end=window.end,
                next_url=page.next_url,
                pages=checkpoint.pages + 1,
                rows=checkpoint.rows + written,
                calls=checkpoint.calls + page.attempts,
                done=done,
                scope=key,
            )
            save_checkpoint(conn, checkpoint, run_id)
            if done:
                advance_watermark(conn, spec.name, window.end, run_id, key)
        pages, rows, calls = pages + 1, rows + written, calls + page.attempts
        log.info(
            "page stored",
            extra={
                "event": "page",
                "resource": spec.name,
                "scope": key,
                "window": str(window),
                "page": checkpoint.pages,
                "rows": written,
                "attempts": page.attempts,
                "done": done,
            },
        )
        if on_page is not None:
            on_page(spec, checkpoint, written)
    return SyncResult(
        spec.name, window, pages, rows, calls, resumed, False, time.monotonic() - started, key
    )


@dataclass
class Pipeline:
    """The parts one worker needs, built once from :class:`Settings`."""

    settings: Settings
    engine: Engine
    budget: Budget
    client: CourtListenerClient

    def sync(self, spec: ResourceSpec, window: Window, **kwargs: Any) -> SyncResult:
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
