"""courtflow metrics and log fields through Airflow: StatsD packets on a UDP socket,
OpenTelemetry export to a local collector, and structured fields in task logs.

Airflow reads its configuration when imported, so each case runs in a subprocess with
its own ``AIRFLOW__METRICS__*`` environment and a throw-away ``AIRFLOW_HOME``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bounds import bound

TOKEN = "00112233445566778899aabbccddeeff00112233"

EMIT = textwrap.dedent("""
    import json, sys
    from dataclasses import dataclass
    from datetime import UTC, datetime, timedelta
    from courtflow.airflow.metrics import AirflowStatsSink
    from courtflow.client.gate import CallReport, PassThroughGate
    from courtflow.observe.metrics import ObservedGate, record_page, record_watermark

    @dataclass(frozen=True)
    class W:
        rate: str
        remaining: int

    sink = AirflowStatsSink()
    gate = ObservedGate(PassThroughGate(), sink, usage=lambda: [W("5000/hour", 4999)])
    ticket = gate.reserve("dockets/")
    gate.report(ticket, CallReport(status=200, outcome="ok", duration_ms=12.0))
    gate.report(ticket, CallReport(status=429, outcome="throttled", duration_ms=3.0,
                                   error_class="ThrottledError"))
    record_page(sink, "dockets", rows=20, seconds=0.25)
    record_watermark(sink, "dockets", datetime.now(UTC) - timedelta(hours=1))
    from airflow.sdk._shared.observability.metrics import stats
    print(json.dumps({"backend": type(stats._get_backend()).__name__,
                      "fallback": sink._fallback is not None}))
""")


def run_python(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")},
        "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **env,
    }
    done = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=bound(120))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    yield sock
    sock.close()


def receive(sock: socket.socket, until: set[str], seconds: float = 20.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + bound(seconds)
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            if {line.split(":")[0] for line in lines} >= until:
                break
            continue
        lines += data.decode().splitlines()
    return lines


def test_airflow_stats_sink_sends_statsd_packets_with_the_airflow_prefix(
    udp: socket.socket, tmp_path: Path
) -> None:
    port = udp.getsockname()[1]
    done = run_python(EMIT, {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
    }, tmp_path)  # fmt: skip
    expected = {
        "airflow.courtlistener.calls", "airflow.courtlistener.throttled",
        "airflow.courtlistener.errors.ThrottledError", "airflow.courtlistener.call_latency",
        "airflow.courtlistener.budget.wait", "airflow.courtlistener.budget.remaining.5000_per_hour",
        "airflow.courtlistener.rows_upserted.dockets", "airflow.courtlistener.pages.dockets",
        "airflow.courtlistener.page_duration",
        "airflow.courtlistener.watermark_lag_seconds.dockets",
    }  # fmt: skip
    lines = receive(udp, expected)
    seen = {line.split(":")[0] for line in lines}
    assert expected <= seen, sorted(seen)
    assert "airflow.courtlistener.calls:2|c" in lines or lines.count(
        "airflow.courtlistener.calls:1|c") == 2  # fmt: skip
    assert "airflow.courtlistener.rows_upserted.dockets:20|c" in lines
    assert "airflow.courtlistener.budget.remaining.5000_per_hour:4999|g" in lines
    assert any(line.startswith("airflow.courtlistener.call_latency:12") and line.endswith("|ms")
               for line in lines)  # fmt: skip
    lag = next(x for x in lines if x.startswith("airflow.courtlistener.watermark_lag_seconds."))
    assert 3590 < float(lag.split(":")[1].split("|")[0]) < 3700
    used = json.loads(done.stdout.strip().splitlines()[-1])
    # Airflow's own StatsD backend needs the `statsd` package; without it courtflow
    # sends the same lines itself rather than losing them.
    has_statsd = importlib.util.find_spec("statsd") is not None
    assert used == ({"backend": "SafeStatsdLogger", "fallback": False} if has_statsd
                    else {"backend": "NoStatsLogger", "fallback": True})  # fmt: skip


class _Collector(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_airflow_stats_sink_reaches_an_opentelemetry_collector(tmp_path: Path) -> None:
    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = run_python(EMIT, {
            "AIRFLOW__METRICS__OTEL_ON": "True",
            "AIRFLOW__METRICS__OTEL_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__OTEL_PORT": str(server.server_address[1]),
            "AIRFLOW__METRICS__OTEL_INTERVAL_MILLISECONDS": "60000",
        }, tmp_path)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    # The exporter flushes at exit: the metrics are in the request bodies by now.
    assert json.loads(done.stdout.strip().splitlines()[-1])["backend"] == "SafeOtelLogger"
    payload = b"".join(body for path, body in _Collector.bodies if path == "/v1/metrics")
    for name in (b"airflow.courtlistener.calls", b"airflow.courtlistener.throttled",
                 b"airflow.courtlistener.errors.throttlederror",  # OTel lowercases names
                 b"airflow.courtlistener.call_latency",
                 b"airflow.courtlistener.budget.remaining.5000_per_hour",
                 b"airflow.courtlistener.rows_upserted.dockets",
                 b"airflow.courtlistener.watermark_lag_seconds.dockets"):  # fmt: skip
        assert name in payload, name
    # Tags become attributes: the error class keeps its case there.
    assert b"endpoint" in payload and b"dockets/" in payload and b"ThrottledError" in payload


BRIDGE = textwrap.dedent(f"""
    import io, json, logging, sys
    from airflow.sdk.log import configure_logging
    buf = io.BytesIO()
    configure_logging(json_output=True, output=buf)
    from courtflow.airflow.logging import task_logging
    log = logging.getLogger("courtflow.client")
    log.info("before", extra={{"endpoint": "x/"}})
    with task_logging(run_id="manual__1", task_id="sync_dockets", dag_id="courtlistener"):
        log.info("GET %s -> %d", "dockets/", 503, extra={{
            "event": "api_call", "endpoint": "dockets/", "status_code": 503,
            "duration_ms": 12.5, "attempt": 1, "bytes": 10, "outcome": "http_error",
            "url": "https://x/api/rest/v4/dockets/?t={TOKEN}"}})
        # A successful call stays in the ledger: not one task-log line per call.
        log.info("GET %s -> %d", "dockets/", 200, extra={{
            "event": "api_call", "endpoint": "dockets/", "status_code": 200, "outcome": "ok"}})
        logging.getLogger("courtflow.sync").warning("page", extra={{
            "event": "page", "resource": "dockets", "rows": 20, "done": False}})
        logging.getLogger("airflow.task").info("airflow's own line")
        try:
            raise RuntimeError("auth failed for Token {TOKEN}")
        except RuntimeError:
            log.exception("failed")
    log.info("after", extra={{"endpoint": "y/"}})
    sys.stdout.write(buf.getvalue().decode())
""")


def test_task_logs_keep_courtflow_fields_context_and_redaction(tmp_path: Path) -> None:
    out = run_python(BRIDGE, {}, tmp_path).stdout
    assert TOKEN not in out
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    by_event = {x["event"]: x for x in lines}
    assert "GET dockets/ -> 200" not in by_event
    call = by_event["GET dockets/ -> 503"]
    assert call["event_type"] == "api_call" and call["logger"] == "courtflow.client"
    assert {k: call[k] for k in ("endpoint", "status_code", "duration_ms", "attempt", "bytes",
                                  "outcome", "run_id", "task_id", "dag_id")} == {
        "endpoint": "dockets/", "status_code": 503, "duration_ms": 12.5, "attempt": 1,
        "bytes": 10, "outcome": "http_error", "run_id": "manual__1", "task_id": "sync_dockets",
        "dag_id": "courtlistener",
    }  # fmt: skip
    assert call["url"].endswith("?t=***")
    page = by_event["page"]
    assert (page["level"], page["resource"], page["rows"], page["done"]) == (
        "warning", "dockets", 20, False)  # fmt: skip
    assert by_event["airflow's own line"]["run_id"] == "manual__1"  # bound for every line
    failed = by_event["failed"]
    assert failed["level"] == "error" and "exception" in failed
    assert "***" in json.dumps(failed["exception"])
    # Each record is written once; outside the context Airflow's default rendering is back.
    assert sum(1 for x in lines if x["event"] == "GET dockets/ -> 503") == 1
    assert "run_id" not in by_event["after"] and "endpoint" not in by_event["after"]
