"""JSON log lines: every field, the context ids, and no secret ever."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

from courtflow.observe.logs import (
    JsonFormatter,
    configure_json_logging,
    current_log_context,
    log_context,
)
from courtflow.redact import Secret

TOKEN = "0123456789abcdef0123456789abcdef01234567"


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_becomes_one_json_line_with_core_fields_and_every_extra(
    json_logs: io.StringIO,
) -> None:
    logging.getLogger("courtflow.client").info(
        "GET %s -> %d", "dockets/", 200,
        extra={"event": "api_call", "endpoint": "dockets/", "status_code": 200,
               "duration_ms": 12.5, "attempt": 1, "bytes": 2048, "outcome": "ok"},
    )  # fmt: skip
    (line,) = lines(json_logs)
    assert line["level"] == "info"
    assert line["logger"] == "courtflow.client"
    assert line["message"] == "GET dockets/ -> 200"
    assert {k: line[k] for k in ("event", "endpoint", "status_code", "duration_ms",
                                  "attempt", "bytes", "outcome")} == {
        "event": "api_call", "endpoint": "dockets/", "status_code": 200, "duration_ms": 12.5,
        "attempt": 1, "bytes": 2048, "outcome": "ok",
    }  # fmt: skip
    stamp = datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert str(line["timestamp"]).endswith("Z")
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_non_json_values_in_extras_are_rendered_not_fatal(json_logs: io.StringIO) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    logging.getLogger("courtflow.sync").info(
        "page", extra={"window": (when, when), "when": when, "obj": object(), "tags": {"a"}}
    )
    (line,) = lines(json_logs)
    assert line["window"] == [when.isoformat(), when.isoformat()]
    assert line["when"] == "2024-05-01T12:00:00+00:00"
    assert str(line["obj"]).startswith("<object object")
    assert line["tags"] == ["a"]


def test_extras_named_like_core_fields_are_kept_under_another_name(json_logs: io.StringIO) -> None:
    logging.getLogger("courtflow.x").warning("m", extra={"level": "custom", "logger": "other"})
    (line,) = lines(json_logs)
    assert line["level"] == "warning" and line["extra_level"] == "custom"
    assert line["logger"] == "courtflow.x" and line["extra_logger"] == "other"


def test_exceptions_are_included_as_text(json_logs: io.StringIO) -> None:
    try:
        raise ValueError("bad page")
    except ValueError:
        logging.getLogger("courtflow.sync").exception("page failed")
    (line,) = lines(json_logs)
    assert line["level"] == "error"
    assert "ValueError: bad page" in str(line["exception"])


def test_log_context_adds_run_and_task_ids_to_every_record_and_nests(
    json_logs: io.StringIO,
) -> None:
    log = logging.getLogger("courtflow.sync")
    with log_context(run_id="manual__1", task_id="sync_dockets"):
        log.info("outer")
        with log_context(task_id="sync_clusters", window="2024-05-01"):
            assert current_log_context()["task_id"] == "sync_clusters"
            log.info("inner")
        log.info("outer again", extra={"run_id": "explicit"})
    log.info("outside")
    outer, inner, again, outside = lines(json_logs)
    assert (outer["run_id"], outer["task_id"]) == ("manual__1", "sync_dockets")
    assert (inner["run_id"], inner["task_id"], inner["window"]) == (
        "manual__1", "sync_clusters", "2024-05-01")  # fmt: skip
    assert again["run_id"] == "explicit" and again["task_id"] == "sync_dockets"
    assert "run_id" not in outside and "task_id" not in outside


def test_a_token_in_message_extras_nested_values_and_traceback_never_appears(
    json_logs: io.StringIO,
) -> None:
    log = logging.getLogger("courtflow.client")
    log.info("auth header Token %s sent", TOKEN, extra={
        "url": f"https://x/api/?t={TOKEN}", "headers": {"Authorization": f"Token {TOKEN}"},
        "pair": [TOKEN, 1], "secret": Secret(TOKEN),
    })  # fmt: skip
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception('quoted "%s"', TOKEN)
    text = json_logs.getvalue()
    assert TOKEN not in text
    assert TOKEN[:20] not in text
    first, second = lines(json_logs)  # still valid JSON after redaction
    assert first["message"] == "auth header Token *** sent"
    assert first["headers"] == {"Authorization": "Token ***"}
    assert first["secret"] == "***"
    assert "***" in str(second["exception"])


def test_a_known_secret_that_is_not_token_shaped_is_redacted_too() -> None:
    formatter = JsonFormatter(secrets=(Secret("hunter2-not-hex"),))
    record = logging.LogRecord(
        "courtflow", logging.INFO, __file__, 1, "pw=%s", ("hunter2-not-hex",), None
    )
    record.note = "again hunter2-not-hex"
    line = json.loads(formatter.format(record))
    assert line["message"] == "pw=***" and line["note"] == "again ***"


def test_configuring_twice_installs_one_handler() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    first = configure_json_logging("INFO", io.StringIO())
    second = configure_json_logging("INFO", io.StringIO())
    try:
        ours = [h for h in root.handlers if getattr(h, "_courtflow_json", False)]
        assert ours == [second] and first not in root.handlers
        assert root.level == logging.INFO
    finally:
        root.removeHandler(second)
        root.setLevel(level)
    assert root.handlers == before
