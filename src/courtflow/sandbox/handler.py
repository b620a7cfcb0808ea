"""HTTP plumbing: routing, token auth, throttling, fault injection, framing.

Order per request, as in Django REST framework: route -> authenticate -> throttle
(admitted requests are recorded at once) -> view. A 400, 404 or injected 5xx after
admission still cost quota. Tokens never reach a log line.
"""

from __future__ import annotations

import logging
import math
import socket
import struct
import time
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from courtflow.sandbox.faults import Fault, padded, poisoned, with_next
from courtflow.sandbox.mutate import ADMIN_PREFIX, MutationError, mutate, records
from courtflow.sandbox.query import ApiError
from courtflow.sandbox.records import Links, dumps
from courtflow.sandbox.throttle import Verdict
from courtflow.sandbox.usage import usage_payload
from courtflow.sandbox.views import (
    NOT_FOUND,
    RESOURCES,
    SEARCH,
    Answer,
    RequestUrl,
    detail_view,
    list_view,
    root,
)

if TYPE_CHECKING:
    from courtflow.sandbox.server import SandboxState

log = logging.getLogger("courtflow.sandbox")
PREFIX = "/api/rest/v4/"
_AUTH_HEADERS = (("WWW-Authenticate", 'Bearer realm="api"'),)
_HTML_ERRORS = {
    500: b"<!doctype html>\n<html><head><title>Server Error (500)</title></head>"
    b"<body><h1>Server Error (500)</h1><p></p></body></html>\n",
    502: b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n",
    503: b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>\n",
}


def throttle_message(verdict: Verdict) -> str:
    if verdict.rate is None:
        return "Request was throttled."
    if verdict.rate.limit <= 0:
        # The server's wording for a '0/...' rate (a blocked account): no wait, no header.
        return "Request was throttled. Your account is currently blocked from making API requests."
    if verdict.retry_after is None:
        return f"Request was throttled. Rate limit exceeded: {verdict.rate.text}."
    unit = "second" if verdict.retry_after == 1 else "seconds"
    return (
        f"Request was throttled. Rate limit exceeded: {verdict.rate.text}. "
        f"Expected available in {verdict.retry_after} {unit}."
    )


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    server_version = "courtflow-sandbox"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is dropped after this
    disable_nagle_algorithm = True  # small responses must not wait for delayed ACKs

    @property
    def state(self) -> SandboxState:
        return self.server.state  # type: ignore[attr-defined, no-any-return]

    # -- http.server hooks -----------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.state.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.state.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox: " + format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("sandbox: %s %s -> %s", self.command, urlsplit(self.path).path, code)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _method_not_allowed(self) -> None:
        self.state.record(None, "405")
        self._json(405, {"detail": f'Method "{self.command}" not allowed.'})

    do_PUT = do_PATCH = do_DELETE = _method_not_allowed

    def do_POST(self) -> None:
        if urlsplit(self.path).path.startswith(ADMIN_PREFIX):
            self._admin()
        else:
            self._method_not_allowed()

    def _admin(self) -> None:
        """The test hooks over HTTP (courtflow.sandbox.mutate): token needed, no quota."""
        import json

        path = urlsplit(self.path).path[len(ADMIN_PREFIX):].strip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self._authenticate() is None:
            return
        data = self.state.data
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
        try:
            if self.command == "POST" and path == "mutate":
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise MutationError("the body must be a JSON object")
                answer = mutate(data, body)
            elif self.command == "GET" and path.startswith("records/"):
                answer = records(data, path.split("/", 1)[1], f"http://{host}{PREFIX}")
            else:
                self.state.record(None, "404")
                self._json(404, NOT_FOUND)
                return
        except (MutationError, ValueError) as exc:
            self.state.record(None, "400")
            self._json(400, {"detail": str(exc)})
            return
        self.state.record(None, "200")
        self._json(200, answer)

    # -- the request ---------------------------------------------------------------
    def _handle(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith(ADMIN_PREFIX):
            self._admin()
            return
        params = tuple(parse_qsl(parts.query, keep_blank_values=True))
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
        url = RequestUrl(origin=f"http://{host}", path=parts.path, params=params)
        links = Links(f"http://{host}{PREFIX}")
        route = self._route(parts.path)
        if route is None:
            self.state.record(None, "404")
            self._json(404, NOT_FOUND)
            return
        kind, resource, key = route
        if kind == "slash":
            # Django's APPEND_SLASH, before any authentication.
            target = url.origin + parts.path + "/" + (f"?{parts.query}" if parts.query else "")
            self.state.record(None, "301")
            self._send(301, b"", "text/html; charset=utf-8", (("Location", target),))
            return
        token = self._authenticate()
        if token is None:
            return
        if kind == "usage":
            self._usage(token)
            return
        self._admitted_call(token, lambda: self._view(kind, resource, key, url, links))

    def _route(self, path: str) -> tuple[str, str, str] | None:
        if path + "/" == PREFIX or path == PREFIX:
            return ("root", "", "") if path == PREFIX else ("slash", "", "")
        if not path.startswith(PREFIX):
            return None
        rest = path[len(PREFIX) :]
        trailing = rest.endswith("/")
        parts = [p for p in rest.split("/") if p]
        if not parts or len(parts) > 2:
            return None
        resource = parts[0]
        if resource not in (*RESOURCES, SEARCH, "api-usage") or (
            resource == "api-usage" and len(parts) > 1
        ):
            return None
        if not trailing:
            return ("slash", resource, "")
        if resource == "api-usage":
            return ("usage", resource, "")
        return ("list", resource, "") if len(parts) == 1 else ("detail", resource, parts[1])

    def _authenticate(self) -> str | None:
        header = self.headers.get("Authorization", "")
        words = header.split()
        if not words or words[0].lower() != "token":
            detail = "Authentication credentials were not provided."
            self.state.record(None, "401")
            self._json(401, {"detail": detail}, _AUTH_HEADERS)
            return None
        if len(words) == 1:
            detail = "Invalid token header. No credentials provided."
        elif len(words) > 2:
            detail = "Invalid token header. Token string should not contain spaces."
        elif not self.state.accepts(words[1]):
            detail = "Invalid token."
        else:
            return words[1]
        self.state.record(None, "401")
        self._json(401, {"detail": detail}, _AUTH_HEADERS)
        return None

    def _view(self, kind: str, resource: str, key: str, url: RequestUrl, links: Links) -> Answer:
        data = self.state.data
        try:
            if kind == "root":
                return root(links)
            if kind == "list":
                return list_view(data, resource, url, links)
            return detail_view(data, resource, key, url, links)
        except ApiError as exc:
            return Answer(exc.status, exc.body)
        except Exception:  # a sandbox bug: answer as Django would, and say so once
            log.exception("sandbox: %s %s failed", self.command, urlsplit(self.path).path)
            return Answer(500, {"detail": "A server error occurred."})

    def _admitted_call(self, token: str, view: Callable[[], Answer]) -> None:
        state = self.state
        fault = state.faults.draw(token)
        if fault is Fault.BURST_429:
            wait = state.faults.config.burst_retry_after
            rate = state.throttle.rates_for(token)[0]
            verdict = Verdict(admitted=False, rate=rate, wait=float(wait))
            self._throttled(token, verdict)
            return
        verdict = state.throttle.check(token)
        if not verdict.admitted:
            self._throttled(token, verdict)
            return
        if fault is Fault.RESET:
            state.record(token, "reset")
            self._reset()
            return
        if fault is Fault.SLOW:
            state.stopping.wait(state.faults.config.slow_seconds)
        answer = view()
        if fault in (Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503):
            status = int(fault.value)
            state.record(token, str(status))
            self._send(status, _HTML_ERRORS[status], "text/html; charset=utf-8")
            return
        body = answer.encoded()
        body = self._misbehave(token, fault, answer, body)
        if fault is Fault.TRICKLE and body:
            state.record(token, f"{answer.status}-trickled")
            self._send(answer.status, body, "application/json", answer.headers, trickle=True)
            return
        if fault is Fault.TRUNCATED:
            state.record(token, f"{answer.status}-truncated")
            self._send(answer.status, body, "application/json", answer.headers, cut=True)
            return
        if fault is Fault.INVALID_JSON and body:
            body = body[: max(1, len(body) // 2)]
        state.record(token, str(answer.status))
        self._send(answer.status, body, "application/json", answer.headers)

    def _retry_after(self, verdict: Verdict) -> tuple[tuple[str, str], ...]:
        if verdict.retry_after is None:
            return ()
        if self.state.config.retry_after_form == "http-date":
            # Whole seconds of an HTTP date: round up, never announce room too early.
            when = formatdate(math.ceil(time.time()) + verdict.retry_after, usegmt=True)
            return (("Retry-After", when),)
        return (("Retry-After", str(verdict.retry_after)),)
    def _misbehave(self, token: str, fault: Fault, answer: Answer, body: bytes) -> bytes:
        """Poison records, cursor loops and huge bodies (only on list pages that succeed)."""
        config = self.state.faults.config
        if answer.status != 200 or answer.raw is None:
            return body
        if config.poison_ids or config.broken_ids or config.broken_every:
            body = poisoned(body, frozenset(config.poison_ids), frozenset(config.broken_ids),
                            config.broken_every)  # fmt: skip
        memory = self.state.cycles
        if fault is Fault.CYCLE:
            earlier = memory.back(token, config.cycle_length - 1)
            if earlier is not None:
                body = with_next(body, earlier)
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
        memory.served(token, f"http://{host}{self.path}")
        if fault is Fault.HUGE:
            body = padded(body, config.huge_bytes)
        return body

    def _throttled(self, token: str, verdict: Verdict) -> None:
        headers = self._retry_after(verdict)
        self.state.record(token, "429", throttled=True)
        self._json(429, {"detail": throttle_message(verdict)}, headers)

    def _usage(self, token: str) -> None:
        state = self.state
        verdict = state.usage_throttle.check(token)
        if not verdict.admitted:
            state.record(token, "429", usage=True)
            headers = self._retry_after(verdict)
            self._json(429, {"detail": throttle_message(verdict)}, headers)
            return
        payload = usage_payload(
            state.throttle.usage(token),
            state.usage_throttle.usage(token),
            state.throttle.days(token),
        )
        state.record(token, "200", usage=True)
        self._json(200, payload)

    # -- framing -------------------------------------------------------------------
    def _json(
        self, status: int, body: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self._send(status, dumps(body), "application/json", headers)

    def _send(
        self, status: int, body: bytes, content_type: str,
        headers: tuple[tuple[str, str], ...] = (), cut: bool = False, trickle: bool = False,
    ) -> None:  # fmt: skip
        latency = self.state.latency
        if latency > 0:
            time.sleep(latency)
        if cut:
            self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        lines = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Vary: Accept, Authorization, Cookie",
            "Allow: GET, HEAD, OPTIONS",
            *(f"{name}: {value}" for name, value in headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command == "HEAD":
            body = b""
        elif cut:
            body = body[: len(body) // 2]
        self.log_request(status)
        if trickle:
            # A server that never stalls long enough for a read timeout, yet never finishes.
            self.wfile.write(head)
            pieces = 50
            step = max(1, -(-len(body) // pieces))
            pause = self.state.faults.config.trickle_seconds / pieces
            for start in range(0, len(body), step):
                if self.state.stopping.wait(pause):
                    return
                try:
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                except OSError:
                    return
            return
        # One write per response: head and body in the same segment when they fit.
        self.wfile.write(head + body)

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no response at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
