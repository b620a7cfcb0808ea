"""Failure alerts: the JSON webhook and Slack (the Slack provider's own notifier) both
reach a receiver on 127.0.0.1 with the run's details and without the token."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from courtflow.airflow.notifications import (
    SlackAlertNotifier,
    WebhookNotifier,
    alert_payload,
    failure_notifiers,
)
from courtflow.airflow.operators import CourtListenerFatalError
from courtflow.errors import AuthError, ServerError

TOKEN = "0badc0de0badc0de0badc0de0badc0de0badc0de"


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def context(error: BaseException) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="cl", task_id="dockets.sync", run_id="manual__1", try_number=1,
                         max_tries=3, map_index=-1,
                         log_url="http://localhost:8080/dags/cl/runs/manual__1/tasks/dockets.sync")
    task = SimpleNamespace(courtlistener_conn_id="cl_unit_alerts")
    return {"ti": ti, "task": task, "run_id": "manual__1", "exception": error,
            "logical_date": datetime(2024, 1, 4, tzinfo=UTC)}


@pytest.fixture(autouse=True)
def connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CL_UNIT_ALERTS", json.dumps(
        {"conn_type": "courtlistener", "password": TOKEN}))


def test_payload_names_the_run_and_the_error_class_and_redacts_the_token() -> None:
    error = CourtListenerFatalError(AuthError(f"401 for Token {TOKEN}: Invalid token."))
    payload = alert_payload(context(error), [TOKEN])
    assert {k: payload[k] for k in ("dag_id", "task_id", "run_id", "try_number",
                                    "error_class", "exception")} == {
        "dag_id": "cl", "task_id": "dockets.sync", "run_id": "manual__1", "try_number": 1,
        "error_class": "AuthError", "exception": "CourtListenerFatalError"}
    assert payload["log_url"].endswith("/tasks/dockets.sync")
    assert TOKEN not in json.dumps(payload) and "***" in payload["error"]


def test_webhook_notifier_posts_the_alert_as_json(receiver: str) -> None:
    notifier = WebhookNotifier(url=f"{receiver}/alerts")
    notifier(context(ServerError(f"503 after retries ({TOKEN})")))
    ((path, headers, body),) = Receiver.received
    assert path == "/alerts" and headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["error_class"] == "ServerError" and payload["task_id"] == "dockets.sync"
    assert TOKEN.encode() not in body


def test_webhook_url_and_headers_can_come_from_a_connection(
    receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_HOOK", json.dumps({
        "conn_type": "http", "host": receiver, "login": "bot", "password": "pw",
        "extra": {"endpoint": "/hooks/courtflow", "headers": {"X-Team": "data"}}}))
    WebhookNotifier(webhook_conn_id="alerts_hook")(context(ServerError("boom")))
    ((path, headers, _),) = Receiver.received
    assert path == "/hooks/courtflow" and headers["X-Team"] == "data"
    assert headers["Authorization"].startswith("Basic ")


def test_slack_alert_goes_through_the_slack_providers_webhook(
    receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_UNIT", json.dumps({
        "conn_type": "slackwebhook", "host": f"{receiver}/services", "password": "T0/B0/XXX"}))
    SlackAlertNotifier(slack_webhook_conn_id="slack_unit")(
        context(CourtListenerFatalError(AuthError(f"bad {TOKEN}"))))
    ((path, _, body),) = Receiver.received
    assert path == "/services/T0/B0/XXX"
    text = json.loads(body)["text"]
    assert "cl.dockets.sync" in text and "AuthError" in text and "try 1" in text
    assert TOKEN not in text


def test_failure_notifiers_builds_what_is_configured() -> None:
    assert failure_notifiers() == []
    kinds = [type(n) for n in failure_notifiers(webhook_url="http://x", slack_conn_id="s")]
    assert kinds == [WebhookNotifier, SlackAlertNotifier]
    with pytest.raises(ValueError):
        WebhookNotifier()


class SmtpReceiver(threading.Thread):
    """Just enough SMTP on 127.0.0.1 to take one message (no TLS, no auth)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = int(self.sock.getsockname()[1])
        self.messages: list[tuple[list[str], str]] = []

    def run(self) -> None:
        conn, _ = self.sock.accept()
        stream = conn.makefile("rwb")

        def say(line: str) -> None:
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        say("220 courtflow-test ready")
        recipients: list[str] = []
        while line := stream.readline().decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250 courtflow-test")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip(" <>"))
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                body = []
                while (data := stream.readline().decode()) not in (".\r\n", ""):
                    body.append(data)
                self.messages.append((recipients, "".join(body)))
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                break
            else:
                say("250 ok")
        conn.close()
        self.sock.close()


def test_email_alert_goes_through_the_smtp_providers_notifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import email
    from email.message import Message

    from courtflow.airflow.notifications import EmailAlertNotifier

    smtp = SmtpReceiver()
    smtp.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_UNIT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
        "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10}}))
    notifier = EmailAlertNotifier(to=["oncall@example.org"], smtp_conn_id="smtp_unit",
                                  from_email="courtflow@example.org")  # fmt: skip
    notifier(context(CourtListenerFatalError(AuthError(f"401 for {TOKEN}"))))
    smtp.join(timeout=10)
    ((recipients, raw),) = smtp.messages
    assert recipients == ["oncall@example.org"]
    message: Message = email.message_from_string(raw)
    assert message["Subject"] == "courtflow task failed: cl.dockets.sync"
    html = "".join(str(part.get_payload(decode=True), "utf-8") for part in message.walk()
                   if part.get_content_type() == "text/html")  # fmt: skip
    assert "AuthError" in html and "manual__1" in html and TOKEN not in raw
