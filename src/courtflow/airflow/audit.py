"""The audit task: a resource's counts per window against the server, drift repaired.

Built by the DAG factory for each resource configured with an ``audit`` schedule (e.g.
weekly), as its own DAG ``<dag_id>__audit_<resource>``: the audit ignores the run's data
interval and checks everything from the scope's oldest stored row to its watermark
(courtflow.run.audit). Its calls go through the same budget as every other call, in the
``backfill`` class unless configured otherwise. Drift is repaired (``repair=True``) or, if
not, fails the task so the alert fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from courtflow.airflow.hooks import CourtListenerHook
from courtflow.catalogue.resources import get_resource
from courtflow.catalogue.scope import Scope
from courtflow.errors import FatalError


class CourtListenerAuditOperator(BaseOperator):
    """Audit one resource (or scope) and repair the windows that drifted."""

    template_fields: Sequence[str] = ("resource",)
    ui_color = "#f3e5d8"

    def __init__(
        self,
        *,
        resource: str,
        courtlistener_conn_id: str = CourtListenerHook.default_conn_name,
        filters: Mapping[str, str] | None = None,
        repair: bool = True,
        priority: str | None = None,
        max_sleep: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        spec = get_resource(resource)  # a wrong name fails when the DAG is parsed
        Scope.of(spec, filters or {})
        self.resource = resource
        self.courtlistener_conn_id = courtlistener_conn_id
        self.filters = dict(filters or {})
        self.repair = repair
        self.priority = priority
        self.max_sleep = max_sleep

    def execute(self, context: Context) -> dict[str, Any]:
        from courtflow.run import audit

        spec = get_resource(self.resource)
        scope = Scope.of(spec, self.filters)
        hook = CourtListenerHook(self.courtlistener_conn_id)
        ti = context["ti"]
        try:
            settings = hook.get_settings().with_overrides(priority=self.priority or "backfill")
            with hook.open_pipeline(settings=settings, run_id=context["run_id"],
                                    task_id=ti.task_id, dag_id=ti.dag_id,
                                    max_sleep=self.max_sleep) as p:  # fmt: skip
                plan = audit.plan_audit(p.engine, spec, scope, since=None, until=None)
                self.log.info("audit %s %s: %d %s windows, %d count calls", scope.label,
                              plan.span, len(plan.windows), plan.step, plan.calls)  # fmt: skip
                counts = audit.count_windows(p.engine, p.client, spec, scope, plan)
                drifted = [c for c in counts if c.drift]
                for line in audit.drift_lines(counts):
                    self.log.info("drifted:%s", line)
                repairs = []
                if self.repair:
                    for c in drifted:
                        repairs.append(audit.repair_window(
                            p.engine, p.client, spec, scope, c.window,
                            run_id=context["run_id"], dated=plan.step != "all",
                        ).as_dict())  # fmt: skip
        except FatalError as exc:
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from None
        summary = {"resource": spec.name, "scope": scope.key, "windows": len(counts),
                   "drifted": len(drifted), "count_calls": plan.calls,
                   "repaired": repairs}  # fmt: skip
        self.log.info("audit of %s: %s", scope.label, summary)
        if drifted and not self.repair:
            raise AirflowFailException(
                f"{len(drifted)} window(s) of {scope.label} drifted from the server; "
                "run courtflow audit --repair (or set repair) to re-walk them"
            )
        return summary
