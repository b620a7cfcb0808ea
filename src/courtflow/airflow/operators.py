"""``CourtListenerSyncOperator``: sync one resource's window for a DAG run.

Thin: the hook builds settings, :mod:`courtflow.sync` does the work. When the budget
has no room for longer than ``max_sleep`` the operator defers to
:class:`~courtflow.airflow.triggers.BudgetTrigger` (freeing its worker and pool slot)
and resumes from the page checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook
from courtflow.airflow.triggers import BudgetTrigger
from courtflow.airflow.windows import resolve_window
from courtflow.errors import BudgetExhaustedError, FatalError
from courtflow.redact import redact
from courtflow.resources import get_resource
from courtflow.store import get_watermark
from courtflow.sync import open_pipeline
from courtflow.window import Window, parse_instant


class CourtListenerSyncOperator(BaseOperator):
    template_fields: Sequence[str] = ("since", "until")
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
        max_sleep: float = 30.0,
        default_start: datetime | None = None,
        refresh_every: timedelta = timedelta(days=1),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self.courtlistener_conn_id = courtlistener_conn_id
        self.since = since
        self.until = until
        self.fields = list(fields) if fields else None
        self.omit = list(omit) if omit else None
        self.max_sleep = max_sleep
        self.default_start = default_start
        self.refresh_every = refresh_every

    def execute(self, context: Context) -> dict[str, Any]:
        return self._sync(context, None)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, window: Any = None
    ) -> dict[str, Any]:
        self.log.info("budget has room again after deferral: %s", event)
        bounds = (parse_instant(window[0]), parse_instant(window[1])) if window else None
        return self._sync(context, Window(*bounds) if bounds else None)

    def _sync(self, context: Context, window: Window | None) -> dict[str, Any]:
        spec = get_resource(self.resource)
        settings = CourtListenerHook(self.courtlistener_conn_id).get_settings()
        ti = context["ti"]
        run_id = context["run_id"]
        try:
            with open_pipeline(
                settings,
                run_id=run_id,
                task_id=ti.task_id,
                dag_id=ti.dag_id,
                max_sleep=self.max_sleep,
            ) as pipeline:
                with pipeline.engine.connect() as conn:
                    watermark = get_watermark(conn, spec.name)
                if window is None:
                    window = resolve_window(
                        context,
                        watermark=watermark,
                        default_start=self._default_start(context),
                        since=self.since,
                        until=self.until,
                    )
                if (
                    not spec.incremental
                    and watermark is not None
                    and window.end - watermark < self.refresh_every
                ):
                    # Whole-table resources (courts) are refreshed once per refresh_every.
                    self.log.info("%s refreshed at %s; not due yet", spec.name, watermark)
                    return {"resource": spec.name, "skipped": True, "calls": 0}
                self.log.info("syncing %s window %s", spec.name, window)
                result = pipeline.sync(
                    spec, window, run_id=run_id, fields=self.fields, omit=self.omit
                )
        except BudgetExhaustedError as exc:
            assert window is not None
            self.log.info(
                "budget full for %.1fs: deferring (worker slot freed)", exc.wait_seconds
            )
            self.defer(
                trigger=BudgetTrigger(exc.available_at, self.courtlistener_conn_id),
                method_name="execute_complete",
                kwargs={"window": [window.start.isoformat(), window.end.isoformat()]},
            )
        except FatalError as exc:
            # Retrying cannot fix a bad token or a bad request: fail without retries.
            raise AirflowFailException(
                f"{type(exc).__name__}: {redact(str(exc), settings.token)}"
            ) from None
        self.log.info("synced %s", result.as_dict())
        return result.as_dict()

    def _default_start(self, context: Context) -> datetime:
        if self.default_start is not None:
            return self.default_start
        dag = context.get("dag")
        start = getattr(dag, "start_date", None) if dag is not None else None
        return start if isinstance(start, datetime) else datetime(2024, 1, 1, tzinfo=UTC)
