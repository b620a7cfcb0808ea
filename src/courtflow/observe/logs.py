"""Structured logs: one JSON object per line, every ``extra`` field kept, secrets redacted.

Usage (a CLI or any process that is not an Airflow task)::

    configure_json_logging("INFO")
    with log_context(run_id="manual__2024-01-01", task_id="sync_dockets"):
        logging.getLogger("courtflow.sync").info("page", extra={"event": "page", "rows": 20})

Inside Airflow tasks, :mod:`courtflow.airflow.logging` carries the same fields into
Airflow's structlog task logs (which drop stdlib ``extra`` fields on their own).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import IO, Any, Final

from courtflow.redact import Secret, redact

# Attributes every LogRecord has; anything else on a record came from ``extra`` or a filter.
STANDARD_ATTRS: Final[frozenset[str]] = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}

# The keys the formatter writes itself; an ``extra`` field of the same name is renamed.
CORE_KEYS: Final[tuple[str, ...]] = ("timestamp", "level", "logger", "message")

_EMPTY: Mapping[str, object] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, object]] = ContextVar("courtflow_log_context", default=_EMPTY)


@contextmanager
def log_context(**fields: object) -> Iterator[Mapping[str, object]]:
    """Attach ``fields`` (run_id, task_id, dag_id, ...) to every record logged inside.

    Nested contexts add to the outer one; ``None`` values are left out. Context
    variables follow the current thread and asyncio task, so concurrent tasks in one
    process keep their own ids.
    """
    merged = {**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _CONTEXT.set(MappingProxyType(merged))
    try:
        yield _CONTEXT.get()
    finally:
        _CONTEXT.reset(token)


def current_log_context() -> Mapping[str, object]:
    """The fields :func:`log_context` attaches right now (read-only)."""
    return _CONTEXT.get()


class LogContextFilter(logging.Filter):
    """Copies the :func:`log_context` fields onto each record (explicit extras win).

    Attach it to a *handler*: filters on a logger do not see records that propagate
    up from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The non-standard attributes of ``record``: its ``extra`` fields and context."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in STANDARD_ATTRS and not key.startswith("_")
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Secret):
        return str(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def _redact_values(value: Any, secrets: tuple[str | Secret, ...]) -> Any:
    # Redacting values before encoding keeps the line valid JSON even when a secret sits
    # next to characters JSON escapes; the pass over the final line is the backstop.
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, Mapping):
        return {redact(str(k), *secrets): _redact_values(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_values(v, secrets) for v in value]
    return value


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


class JsonFormatter(logging.Formatter):
    """Renders a record as one JSON line: timestamp (ISO, UTC), level, logger, message,
    then every ``extra`` and context field; ``exception`` holds a traceback if any.

    ``secrets`` are removed verbatim in addition to anything token-shaped.
    """

    def __init__(self, secrets: tuple[str | Secret, ...] = ()) -> None:
        super().__init__()
        self._secrets = secrets

    def to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "timestamp": iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            payload[f"extra_{key}" if key in CORE_KEYS else key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        redacted: dict[str, Any] = _redact_values(payload, self._secrets)
        return redacted

    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(
            self.to_dict(record), default=_jsonable, ensure_ascii=False, separators=(",", ":")
        )
        return redact(line, *self._secrets)


def configure_json_logging(
    level: int | str = "INFO",
    stream: IO[str] | None = None,
    *,
    secrets: tuple[str | Secret, ...] = (),
) -> logging.Handler:
    """Send every log record of this process to ``stream`` (stderr) as JSON lines.

    Idempotent: a handler installed by an earlier call is replaced, not duplicated.
    Returns the handler so a caller (or a test) can remove it.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_courtflow_json", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(secrets=secrets))
    handler.addFilter(LogContextFilter())
    handler._courtflow_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler


class RedactingFormatter(logging.Formatter):
    """The plain-text formatter, with secrets and anything token-shaped removed."""

    def __init__(self, fmt: str, secrets: tuple[str | Secret, ...] = ()) -> None:
        super().__init__(fmt)
        self._secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), *self._secrets)


LOG_FORMATS: Final[tuple[str, ...]] = ("text", "json")
# Libraries that narrate every step at INFO; shown from DEBUG (-vv) on.
CHATTY_LOGGERS: Final[tuple[str, ...]] = ("alembic", "httpx", "httpcore")


class DefaultEventFilter(logging.Filter):
    """Every line gets an ``event``: the caller's, or ``log`` for plain messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "event"):
            record.event = "log"
        return True


def configure_logging(
    level: int | str,
    log_format: str = "text",
    stream: IO[str] | None = None,
    *,
    secrets: tuple[str | Secret, ...] = (),
) -> logging.Handler:
    """One handler on the root logger: JSON lines (:class:`JsonFormatter`) or plain text.

    Both carry the :func:`log_context` fields (JSON as keys; text only in JSON mode) and
    neither ever shows a secret. Idempotent like :func:`configure_json_logging`.
    """
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if numeric <= logging.DEBUG
                                         else logging.WARNING)  # fmt: skip
    if log_format == "json":
        handler = configure_json_logging(level, stream, secrets=secrets)
        handler.addFilter(DefaultEventFilter())
        return handler
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_courtflow_json", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", secrets)
    )
    handler.addFilter(LogContextFilter())
    handler._courtflow_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler
