"""``CourtListenerSyncOperator``: sync one resource's window for a DAG run, page by page.

Thin: the hook builds the settings, :mod:`courtflow.run.sync` does the work. Around it the
operator adds what only Airflow has:

- a wait longer than ``max_sleep`` (the budget is full, or the server sent a long
  ``Retry-After``) defers to :class:`BudgetTrigger`, freeing the worker and the pool
  slot; the task resumes from the page checkpoint of the same window;
- fatal client errors (bad token, bad request, blocked account) raise
  :class:`CourtListenerFatalError`, an ``AirflowFailException``: no retry;
- transient errors propagate, so the task's retries (exponential backoff) apply;
- every call carries a budget priority class (``priority``; by default ``backfill`` in
  backfill runs, ``incremental`` otherwise) and a deferred task keeps its place in the
  budget's queue: the trigger holds its ticket, the resumed task adopts it;
- every call is measured (``ObservedGate`` over the budget, Airflow's ``Stats``),
  every page and the watermark lag are recorded, and courtflow's log fields reach the
  task log (``task_logging``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from courtflow.airflow.deferring import BudgetDeferringOperator
from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook
from courtflow.airflow.totals import TaskTotals, earlier_tries, task_calls, task_result
from courtflow.airflow.triggers import DEFAULT_MIN_DEFERRAL, DEFAULT_POLL_INTERVAL
from courtflow.airflow.windows import resolve_window, run_priority
from courtflow.catalogue.resources import ResourceSpec, get_resource
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window, parse_instant
from courtflow.errors import BudgetExhaustedError, FatalError, ThrottledError
from courtflow.redact import Secret, redact

# The DAG file imports this module on every parse: the store, the client and the
# metrics stack are imported when a task runs, not here.
if TYPE_CHECKING:
    from courtflow.client.gate import CallGate
    from courtflow.observe.metrics import MetricsSink
    from courtflow.run.summary import Stored
    from courtflow.run.sync import Pipeline
    from courtflow.store import Checkpoint


class CourtListenerFatalError(AirflowFailException):
    """A CourtListener error that retrying cannot fix; ``error_class`` names the cause."""

    def __init__(self, error: FatalError, *secrets: Secret | str | None) -> None:
        self.error_class = type(error).__name__
        super().__init__(f"{self.error_class}: {redact(str(error), *secrets)}")


class PageRecorder:
    """The ``on_page`` listener of :func:`sync_window`: one ``record_page`` and one
    concise task-log line per page, and the running totals of the task."""

    def __init__(
        self,
        sink: MetricsSink,
        totals: TaskTotals | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Any = None,  # the operator's logger (Airflow's structlog logger in a task)
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._last = clock()
        self._log = log or logging.getLogger("courtflow.airflow.operators")
        self.totals = totals or TaskTotals()

    def __call__(self, spec: ResourceSpec, checkpoint: Checkpoint, stored: Stored) -> None:
        from courtflow.observe.metrics import record_page

        written = stored.new + stored.changed
        now = self._clock()
        record_page(self._sink, spec.name, rows=written, seconds=now - self._last)
        self._last = now
        self.totals = self.totals.plus(pages=1, rows=written, new=stored.new,
                                       changed=stored.changed, unchanged=stored.unchanged)
        self._log.info(
            "%s page %d: %d rows (task: %d pages, %d rows)%s", spec.name, checkpoint.pages,
            written, self.totals.pages, self.totals.rows, " - window done" if checkpoint.done
            else "",
        )  # fmt: skip

    def rejects(self, spec: ResourceSpec, count: int) -> None:
        """The ``on_reject`` listener: records a page's records set aside in sync_rejects."""
        from courtflow.observe.metrics import record_rejects

        record_rejects(self._sink, spec.name, count)
        self.totals = self.totals.plus(rejected=count)
        self._log.warning("%s: %d record(s) rejected (see sync_rejects)", spec.name, count)


def observed(sink: MetricsSink) -> Callable[[CallGate], CallGate]:
    """``gate_wrapper`` for :func:`open_pipeline`: measure every call through the budget."""

    from courtflow.observe.metrics import ObservedGate

    def wrap(gate: CallGate) -> CallGate:
        return ObservedGate(gate, sink, usage=getattr(gate, "usage", None))

    return wrap


class CourtListenerSyncOperator(BudgetDeferringOperator):
    """Sync ``resource`` for this run's window (see :func:`resolve_window`).

    ``max_sleep`` (seconds; default: the connection's) is the longest budget wait slept
    in the worker; anything longer defers, for at least ``min_deferral`` seconds (see
    :data:`~courtflow.airflow.triggers.DEFAULT_MIN_DEFERRAL`). ``fields``/``omit``
    select the payload.
    """

    template_fields: Sequence[str] = ("since", "until", "courtlistener_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        resource: str,
        courtlistener_conn_id: str = DEFAULT_CONN_ID,
        since: str | None = None,
        until: str | None = None,
        fields: Sequence[str] | None = None,
        omit: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        max_sleep: float | None = None,
        default_start: datetime | None = None,
        refresh_every: timedelta = timedelta(days=1),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_deferral: float = DEFAULT_MIN_DEFERRAL,
        priority: str | None = None,
        book_next: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Fail at parse time on a typo in the resource or a filter, not at run time.
        # A filter given several values (a list in the DAG config) keeps them as a tuple.
        self.filters = Scope.of(get_resource(resource), filters).mapping()
        if priority is not None:
            from courtflow.budget.classes import parse_priority

            priority = parse_priority(priority)  # a typo fails at parse time too
        self.priority = priority
        self.book_next = book_next
        self.resource = resource
        self.courtlistener_conn_id = courtlistener_conn_id
        self.since = since
        self.until = until
        self.fields = list(fields) if fields else None
        self.omit = list(omit) if omit else None
        self.max_sleep = max_sleep
        self.default_start = default_start
        self.refresh_every = refresh_every
        self.poll_interval = poll_interval
        self.min_deferral = min_deferral

    # -- the work ---------------------------------------------------------------------
    def _run(self, context: Context, resume: Mapping[str, Any]) -> dict[str, Any]:
        from courtflow.airflow.logging import task_logging
        from courtflow.airflow.metrics import AirflowStatsSink

        spec = get_resource(self.resource)
        scope = Scope.of(spec, self.filters)
        ti = context["ti"]
        run_id = context["run_id"]
        deferrals = int(resume.get("deferrals", 0))
        window = _window(resume.get("window"))
        # Carried through every deferral (the trigger echoes them back); None on a
        # task's first stretch, when earlier tries are read from the checkpoint instead.
        carried = TaskTotals.from_payload(resume["totals"]) if "totals" in resume else None
        hook = CourtListenerHook(self.courtlistener_conn_id)
        with task_logging(run_id=run_id, task_id=ti.task_id, dag_id=ti.dag_id,
                          resource=spec.name):  # fmt: skip
            try:
                settings = hook.get_settings()
            except FatalError as exc:
                raise CourtListenerFatalError(exc) from None
            priority = self.priority or run_priority(context.get("dag_run"))
            settings = settings.with_overrides(priority=priority)
            sink = AirflowStatsSink()
            recorder: PageRecorder | None = None
            try:
                with hook.open_pipeline(
                    settings=settings, run_id=run_id, task_id=ti.task_id, dag_id=ti.dag_id,
                    gate_wrapper=observed(sink), max_sleep=self.max_sleep,
                ) as pipeline:  # fmt: skip
                    pipeline.budget.adopt_ticket(resume.get("ticket"))  # its place, kept
                    if window is None:
                        window = self._window_for(context, pipeline, spec, scope)
                        if window is None:
                            return {"resource": spec.name, "scope": scope.key, "skipped": True,
                                    "calls": 0, "deferrals": deferrals}  # fmt: skip
                    if carried is None:
                        carried = earlier_tries(pipeline.engine, spec.name, scope.key, window,
                                                run_id)  # fmt: skip
                        self.log.info("syncing %s window %s", scope.label, window)
                    recorder = PageRecorder(sink, carried, log=self.log)
                    result = pipeline.sync(
                        spec, window, run_id=run_id, fields=self.fields, omit=self.omit,
                        on_page=recorder, scope=scope,
                        on_reject=recorder.rejects,
                    )  # fmt: skip
                    self._record_lag(pipeline, spec, scope, sink)
                    totals = recorder.totals
                    calls = task_calls(pipeline.engine, dag_id=ti.dag_id, run_id=run_id,
                                       task_id=ti.task_id)  # fmt: skip
                    if self.book_next:
                        self._book_next(context, pipeline, priority, calls)
            except BudgetExhaustedError as exc:
                self._defer(exc.available_at, exc.wait_seconds, window, deferrals, "budget full",
                            recorder.totals if recorder else carried,
                            ticket=exc.ticket, priority=priority)  # fmt: skip
            except ThrottledError as exc:
                # The 429's block is in the ledger: the trigger waits for it like any other.
                self._defer(time.time() + exc.retry_after, exc.retry_after, window, deferrals,
                            "server asked to wait",
                            recorder.totals if recorder else carried)  # fmt: skip
            except FatalError as exc:
                raise CourtListenerFatalError(exc, settings.token) from None
        assert window is not None  # resolved above, or the task returned early
        summary = task_result(
            resource=spec.name, scope=scope.key, window=window, totals=totals, calls=calls,
            deferrals=deferrals, try_number=int(getattr(ti, "try_number", 1) or 1),
            resumed=result.resumed or deferrals > 0, skipped=result.skipped,
        )  # fmt: skip
        self._publish(context, summary)
        self.log.info(
            "synced %s %s: %d pages, %d rows, %d calls, %d deferrals (try %d)", scope.label,
            window, totals.pages, totals.rows, calls, deferrals, summary["try_number"],
        )  # fmt: skip
        return summary

    def _book_next(
        self, context: Context, pipeline: Pipeline, priority: str, calls: int
    ) -> None:
        """A scheduled run books this run's calls for the next one, and gives up what
        the previous run booked for it. Best effort: the data is already stored."""
        from courtflow.airflow.windows import next_run_due

        due = next_run_due(context)
        try:
            if pipeline.budget.book_next(calls, due) is not None:
                self.log.info("booked %d %s calls for the next run, due %s", calls, priority,
                              due)  # fmt: skip
        except Exception as exc:
            self.log.warning("could not book the next run's calls: %s", type(exc).__name__)

    def _publish(self, context: Context, summary: Mapping[str, Any]) -> None:
        """The totals ride on the Asset event too, for downstream DAGs and the UI."""
        events = context.get("outlet_events")
        if events is None:
            return
        for outlet in self.outlets:
            events[outlet].extra.update(summary)

    def _window_for(
        self, context: Context, pipeline: Pipeline, spec: ResourceSpec, scope: Scope
    ) -> Window | None:
        """This run's window; None when it is empty or a whole-table resource is not due."""
        from courtflow.store import get_watermark

        with pipeline.engine.connect() as conn:
            watermark = get_watermark(conn, spec.name, scope.key)
        from courtflow.catalogue.window import clamp

        window = resolve_window(
            context, watermark=watermark, default_start=self._default_start(context),
            since=self.since, until=self.until, lookback=pipeline.settings.lookback,
        )  # fmt: skip
        if window.empty:
            self.log.info("%s: empty window %s, nothing to sync", spec.name, window)
            return None
        # No window reaches past the server's clock less the settle lag; the clamped
        # window is the one carried through deferrals, so a resumed task keeps its key.
        from courtflow.run.sync import server_limit

        clamped = clamp(window, server_limit(pipeline.client, pipeline.settings.settle_lag))
        if clamped is None:
            self.log.info("%s: window %s starts after the server's clock less the settle lag; "
                          "nothing to sync yet, watermark unchanged", spec.name, window)
            return None
        window = clamped
        due = watermark is None or window.end - watermark >= self.refresh_every
        if not spec.incremental and not due:
            # Whole-table resources (courts) are refreshed once per refresh_every.
            self.log.info("%s refreshed at %s; not due yet", spec.name, watermark)
            return None
        return window

    def _record_lag(
        self, pipeline: Pipeline, spec: ResourceSpec, scope: Scope, sink: MetricsSink
    ) -> None:
        from courtflow.observe.metrics import record_watermark
        from courtflow.store import get_watermark

        with pipeline.engine.connect() as conn:
            watermark = get_watermark(conn, spec.name, scope.key)
        if watermark is not None:
            record_watermark(sink, spec.name, watermark)

    def _defer(
        self, available_at: float, wait: float, window: Window | None, deferrals: int, why: str,
        totals: TaskTotals | None,
        *, ticket: int | None = None, priority: str | None = None,
    ) -> None:  # fmt: skip
        if window is None:  # no call is made before the window is known
            raise RuntimeError("deferral before the window was resolved")
        self.log.info(
            "%s for %.1fs: deferring to the triggerer (worker and pool slot freed)", why, wait
        )
        payload = {
            "window": [window.start.isoformat(), window.end.isoformat()],
            "deferrals": deferrals + 1,
            "totals": (totals or TaskTotals()).as_payload(),
        }
        self._defer_to_budget(available_at, payload, ticket=ticket, priority=priority)

    def _default_start(self, context: Context) -> datetime:
        if self.default_start is not None:
            return self.default_start
        dag = context.get("dag")
        start = getattr(dag, "start_date", None) if dag is not None else None
        return start if isinstance(start, datetime) else datetime(2024, 1, 1, tzinfo=UTC)


def _window(value: Any) -> Window | None:
    """The window a deferred task was syncing, from the trigger event."""
    if not value:
        return None
    start, end = value
    return Window(parse_instant(str(start)), parse_instant(str(end)))
