"""One run of one search scope: plan the windows, walk them, optionally hydrate.

Used by ``courtflow search`` and the Airflow DAG factory's ``{"search": {...}}`` entries;
the pipeline (engine, shared budget, client) is the one every sync uses
(courtflow.run.sync.open_pipeline), so search calls queue in the same budget, under the
caller's priority class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from courtflow.run.sync import Pipeline
from courtflow.search.hydrate import HydrationResult, hydrate, hydration_plan
from courtflow.search.scope import SearchScope
from courtflow.search.walk import (
    DEFAULT_LOOKBACK,
    MAX_WINDOW_HITS,
    PageListener,
    RunPlan,
    SearchWalker,
    WindowResult,
    plan_windows,
)
from courtflow.store.retry import DbRetryPolicy


@dataclass(frozen=True)
class SearchOptions:
    since: date | None = None
    until: date | None = None
    today: date | None = None  # "today" of the run (UTC); default the real one
    lookback: timedelta = DEFAULT_LOOKBACK
    refresh_older: bool = False
    max_hits: int = MAX_WINDOW_HITS
    hydrate: bool = False


@dataclass(frozen=True)
class SearchRun:
    scope: SearchScope
    plan: RunPlan
    windows: tuple[WindowResult, ...]
    hydration: HydrationResult | None
    seconds: float

    @property
    def calls(self) -> int:
        return sum(w.calls for w in self.windows) + (self.hydration.calls if self.hydration else 0)

    @property
    def hits(self) -> int:
        return sum(w.hits for w in self.windows)

    @property
    def pages(self) -> int:
        return sum(w.pages for w in self.windows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.scope.type,
            "scope": self.scope.key,
            "windows": [w.as_dict() for w in self.windows],
            "catch_up": None if self.plan.catch_up is None else str(self.plan.catch_up),
            "refreshed_windows": self.plan.refreshed,
            "pages": self.pages,
            "hits": self.hits,
            "written": sum(w.written for w in self.windows),
            "new_matches": sum(w.new_matches for w in self.windows),
            "calls": self.calls,
            "hydrated": None if self.hydration is None else self.hydration.stored,
            "seconds": round(self.seconds, 3),
        }

    def human(self) -> str:
        walked = [w for w in self.windows if not w.skipped and not w.split]
        skipped = sum(1 for w in self.windows if w.skipped)
        split = sum(1 for w in self.windows if w.split)
        line = (
            f"searched {self.scope.label}: {len(walked)} window(s) walked, {skipped} already "
            f"complete, {split} split; {self.pages} pages, {self.hits} hits "
            f"({sum(w.new_matches for w in self.windows)} new to this scope, "
            f"{sum(w.written for w in self.windows)} rows written), {self.calls} calls"
        )
        if self.plan.catch_up is not None:
            line += f"\n  catch-up window {self.plan.catch_up} (lookback included)"
        if self.hydration is not None:
            stored = ", ".join(f"{k} {v}" for k, v in self.hydration.stored.items())
            line += f"\n  hydrated: {stored or 'nothing to fetch'} ({self.hydration.calls} calls)"
        return line


def run_search(
    pipeline: Pipeline,
    scope: SearchScope,
    options: SearchOptions,
    *,
    run_id: str | None,
    on_page: PageListener | None = None,
) -> SearchRun:
    started = time.monotonic()
    engine = pipeline.engine
    today = options.today or _utc_today()
    plan = plan_windows(
        engine, scope, since=options.since, until=options.until, today=today,
        lookback=options.lookback, refresh_older=options.refresh_older,
    )  # fmt: skip
    walker = SearchWalker(
        engine, pipeline.client, scope, run_id, max_hits=options.max_hits,
        db_retry=DbRetryPolicy(seconds=pipeline.settings.db_retry_seconds), on_page=on_page,
    )  # fmt: skip
    for window in plan.windows:
        walker.walk(window)
    hydration = None
    if options.hydrate:
        hydration = hydrate(engine, pipeline.client, hydration_plan(engine, scope),
                            run_id=run_id)  # fmt: skip
    return SearchRun(scope, plan, tuple(walker.results), hydration, time.monotonic() - started)


def _utc_today() -> date:
    from datetime import UTC, datetime

    return datetime.now(UTC).date()
