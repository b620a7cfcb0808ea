"""``CourtListenerSearchOperator``: one run of a search-defined scope (courtflow.search).

Like :class:`~courtflow.airflow.operators.CourtListenerSyncOperator`: the hook builds the
settings and the pipeline, the shared budget admits every call under the task's
priority class, a budget wait longer than ``max_sleep`` defers to the
:class:`~courtflow.airflow.triggers.BudgetTrigger` (the resumed task continues from the
page checkpoints: nothing is fetched twice), fatal errors fail without retry.

The run's "today" is the end of its data interval, so a scheduled run catches up to
its own interval (with the lookback) and a rerun of the same interval spends 0 calls;
``since``/``until`` in the run's conf walk an explicit range instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import Context

from courtflow.airflow.deferring import BudgetDeferringOperator
from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook
from courtflow.airflow.operators import CourtListenerFatalError, observed
from courtflow.airflow.triggers import DEFAULT_MIN_DEFERRAL, DEFAULT_POLL_INTERVAL
from courtflow.airflow.windows import run_priority
from courtflow.errors import BudgetExhaustedError, FatalError, ThrottledError


class CourtListenerSearchOperator(BudgetDeferringOperator):
    """Walk a search scope's due windows (see courtflow.search.walk) for this DAG run."""

    template_fields: Sequence[str] = ("courtlistener_conn_id",)
    ui_color = "#fef3e8"

    def __init__(
        self,
        *,
        search_type: str,
        q: str = "",
        filters: Mapping[str, Any] | None = None,
        since: str | None = None,
        until: str | None = None,
        lookback: timedelta = timedelta(days=30),
        refresh_older: bool = False,
        hydrate: bool = False,
        max_window_hits: int = 1000,
        courtlistener_conn_id: str = DEFAULT_CONN_ID,
        max_sleep: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_deferral: float = DEFAULT_MIN_DEFERRAL,
        priority: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from courtflow.search.scope import SearchScope

        scope = SearchScope.of(search_type, q, filters)  # a typo fails at parse time
        if priority is not None:
            from courtflow.budget.classes import parse_priority

            priority = parse_priority(priority)
        self.search_type, self.q, self.filters = scope.type, scope.q, dict(scope.filters)
        self.since, self.until = since, until
        self.lookback, self.refresh_older, self.hydrate = lookback, refresh_older, hydrate
        self.max_window_hits = max_window_hits
        self.courtlistener_conn_id = courtlistener_conn_id
        self.max_sleep = max_sleep
        self.poll_interval, self.min_deferral = poll_interval, min_deferral
        self.priority = priority

    def _options(self, context: Context) -> Any:
        from courtflow.search.run import SearchOptions

        params = context.get("params") or {}
        since = self.since or _day(params.get("since"))
        until = self.until or _day(params.get("until"))
        interval_end = context.get("data_interval_end")
        today = (interval_end.astimezone(UTC).date() if isinstance(interval_end, datetime)
                 else datetime.now(UTC).date())  # fmt: skip
        return SearchOptions(
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None, today=today,
            lookback=self.lookback, refresh_older=self.refresh_older,
            max_hits=self.max_window_hits, hydrate=self.hydrate,
        )  # fmt: skip

    def _run(self, context: Context, resume: Mapping[str, Any]) -> dict[str, Any]:
        from courtflow.airflow.logging import task_logging
        from courtflow.airflow.metrics import AirflowStatsSink
        from courtflow.observe.metrics import record_page
        from courtflow.search.run import run_search
        from courtflow.search.scope import SearchScope

        scope = SearchScope.of(self.search_type, self.q, self.filters)
        ti = context["ti"]
        run_id = context["run_id"]
        deferrals = int(resume.get("deferrals", 0))
        hook = CourtListenerHook(self.courtlistener_conn_id)
        with task_logging(run_id=run_id, task_id=ti.task_id, dag_id=ti.dag_id,
                          resource=scope.kind.resource):  # fmt: skip
            try:
                settings = hook.get_settings()
            except FatalError as exc:
                raise CourtListenerFatalError(exc) from None
            priority = self.priority or run_priority(context.get("dag_run"))
            settings = settings.with_overrides(priority=priority)
            sink = AirflowStatsSink()
            last = [time.monotonic()]

            def on_page(_scope: Any, _window: Any, hits: int) -> None:
                now = time.monotonic()
                record_page(sink, f"search_{scope.type}", rows=hits, seconds=now - last[0])
                last[0] = now

            try:
                with hook.open_pipeline(
                    settings=settings, run_id=run_id, task_id=ti.task_id, dag_id=ti.dag_id,
                    gate_wrapper=observed(sink), max_sleep=self.max_sleep,
                ) as pipeline:  # fmt: skip
                    pipeline.budget.adopt_ticket(resume.get("ticket"))
                    result = run_search(pipeline, scope, self._options(context), run_id=run_id,
                                        on_page=on_page)  # fmt: skip
            except BudgetExhaustedError as exc:
                self._defer(exc.available_at, exc.wait_seconds, deferrals, "budget full",
                            ticket=exc.ticket, priority=priority)  # fmt: skip
            except ThrottledError as exc:
                self._defer(time.time() + exc.retry_after, exc.retry_after, deferrals,
                            "server asked to wait")  # fmt: skip
            except FatalError as exc:
                raise CourtListenerFatalError(exc, settings.token) from None
        summary = {**result.as_dict(), "deferrals": deferrals}
        summary.pop("windows")
        self.log.info("%s", result.human())
        return summary

    def _defer(self, available_at: float, wait: float, deferrals: int, why: str, *,
               ticket: int | None = None, priority: str | None = None) -> None:  # fmt: skip
        self.log.info("%s for %.1fs: deferring to the triggerer", why, wait)
        self._defer_to_budget(available_at, {"deferrals": deferrals + 1}, ticket=ticket,
                              priority=priority)  # fmt: skip


def _day(value: Any) -> str | None:
    return str(value)[:10] if value else None
