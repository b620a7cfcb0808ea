"""courtflow's log fields inside Airflow task logs.

Airflow 3 renders task logs with structlog; stdlib records reach it through a
``ProcessorFormatter`` whose chain has no ``ExtraAdder``, so ``extra={...}`` fields are
dropped (the line keeps only the message). While :func:`task_logging` is active, records
of the ``courtflow`` loggers are re-emitted through structlog with every field as a
key, and ``run_id``/``task_id``/``dag_id`` are bound for every line of the task.

    with task_logging(run_id=context["run_id"], task_id=ti.task_id, dag_id=ti.dag_id):
        sync_window(...)

structlog reserves ``event`` for the message, so courtflow's ``extra["event"]`` (such
as ``"api_call"``) appears as ``event_type`` in task logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
import structlog.tracebacks

from courtflow.observe.logs import current_log_context, log_context, record_fields
from courtflow.redact import redact

_EXCEPTION_DICT = structlog.tracebacks.ExceptionDictTransformer(use_rich=False, show_locals=False)

# Keys structlog's task-log chain writes itself; a field of the same name is renamed.
_STRUCTLOG_KEYS = frozenset({"event", "timestamp", "level", "logger", "filename", "lineno"})


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


class TaskLogFilter(logging.Filter):
    """Keeps task logs to one line per page and one summary per task.

    The operator writes its own line per page (rows and running totals), so the core's
    "page stored" record and the record of every successful call are left out of the
    task log (the ledger keeps each call); failed calls, warnings and errors stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        event = getattr(record, "event", None)
        if event == "page":
            return False
        # The client's and the metrics gate's record of each successful call.
        return not (event in ("api_call", "call_observed")
                    and getattr(record, "outcome", None) == "ok")  # fmt: skip


class MigrationChatterFilter(logging.Filter):
    """Drops Alembic's per-connection notes ("Context impl ...", "Will assume ...").

    Every stretch of a task (each resume after a deferral) and every trigger checks the
    target database's revision; the notes would repeat each time. A migration that
    really runs ("Running upgrade ...") is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or record.getMessage().startswith("Running ")


_MIGRATION_FILTER = MigrationChatterFilter()


def quiet_migrations() -> None:
    """Install :class:`MigrationChatterFilter` on Alembic's logger (idempotent)."""
    logger = logging.getLogger("alembic.runtime.migration")
    if _MIGRATION_FILTER not in logger.filters:
        logger.addFilter(_MIGRATION_FILTER)


class StructlogBridge(logging.Handler):
    """Re-emits stdlib records through structlog, keeping their ``extra`` fields."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {}
            for key, value in {**current_log_context(), **record_fields(record)}.items():
                name = ("event_type" if key == "event" else f"extra_{key}") \
                    if key in _STRUCTLOG_KEYS else key  # fmt: skip
                fields[name] = _redacted(value)
            # structlog's call site is this handler; keep where the record came from.
            fields.setdefault("source", f"{record.module}:{record.lineno}")
            if record.exc_info and record.exc_info[0] is not None:
                # The same structure Airflow renders, built here so its strings (the
                # exception message above all) can be redacted before they are written.
                fields["exception"] = _redacted(_EXCEPTION_DICT(record.exc_info))
            logger = structlog.get_logger(record.name)
            logger.log(record.levelno, redact(record.getMessage()), **fields)
        except Exception:
            self.handleError(record)


@contextmanager
def task_logging(
    *, run_id: str | None, task_id: str | None, dag_id: str | None = None,
    logger_name: str = "courtflow", **fields: object,
) -> Iterator[None]:  # fmt: skip
    """Inside an Airflow task: courtflow log records keep their fields in the task log."""
    context = {"run_id": run_id, "task_id": task_id, "dag_id": dag_id, **fields}
    target = logging.getLogger(logger_name)
    bridge = StructlogBridge()
    bridge.addFilter(TaskLogFilter())
    quiet_migrations()
    propagate = target.propagate
    bound = {k: v for k, v in context.items() if v is not None}
    with log_context(**context), structlog.contextvars.bound_contextvars(**bound):
        target.addHandler(bridge)
        # The bridge replaces the root handler for these records: without this each
        # line would be written twice, once without its fields.
        target.propagate = False
        try:
            yield
        finally:
            target.removeHandler(bridge)
            target.propagate = propagate
