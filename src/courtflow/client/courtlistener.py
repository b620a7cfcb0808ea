"""The one place that speaks HTTP to CourtListener.

Every attempt (first try, retry or redirect hop) reserves a ticket from the
:class:`~courtflow.client.gate.CallGate` before it is sent and reports its outcome after,
so the call budget sees exactly what the server sees.

>>> with CourtListenerClient(settings, gate) as client:
...     for page in client.iter_pages(get_resource("dockets"), since=start, until=end):
...         store(page.results)
...         checkpoint(page.next_url)        # resume later with resume_url=page.next_url
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from courtflow.catalogue.resources import ResourceSpec
from courtflow.client import ties
from courtflow.client.gate import CallGate, CallReport, Outcome, PassThroughGate, Ticket
from courtflow.client.paging import Page, paginator_for
from courtflow.client.retry import REDIRECTS, RetryPolicy, classify, describe_url, should_retry
from courtflow.client.urls import endpoint_of, join_url, require_same_origin
from courtflow.client.usage import ApiUsage, parse_api_usage
from courtflow.config import Settings, require_v4
from courtflow.errors import (
    BadPayloadError,
    BadRequestError,
    BlockedError,
    BodyTooLargeError,
    CourtflowError,
    CursorLoopError,
    DeadlineExceededError,
    GoneError,
    NetworkError,
    ThrottledError,
)
from courtflow.redact import redact

logger = logging.getLogger("courtflow.client")

MAX_REDIRECTS = 5
USAGE_PATH = "api-usage/"
_MAIN, _USAGE = "main", "api_usage"  # throttle scopes: api-usage/ has its own quota


@dataclass
class _Call:
    """Mutable state of one logical request across its attempts and redirect hops."""

    endpoint: str
    url: str
    gated: bool
    attempts: int = 0

    @property
    def scope(self) -> str:
        return _MAIN if self.gated else _USAGE


@dataclass(frozen=True)
class RetryEvent:
    """A failed attempt about to be retried: told to listeners before the backoff sleep."""

    endpoint: str
    url: str  # scheme, host and path; query redacted of anything token-shaped
    attempt: int  # the attempt that failed (1 = first try)
    max_attempts: int
    error_class: str
    reason: str  # the error's message on one short line, redacted
    wait_seconds: float


RetryListener = Callable[[RetryEvent], None]


@dataclass(frozen=True)
class _Exchange:
    """What one HTTP attempt produced: a JSON payload, a redirect target or an error."""

    status: int | None
    size: int = 0
    payload: Any = None
    location: str | None = None
    error: CourtflowError | None = None


class CourtListenerClient:
    """CourtListener REST v4 over one pooled connection, under a call gate.

    Not thread-safe: one client per worker. ``sleep`` and ``clock`` are injectable so
    tests run retries and Retry-After waits without real sleeping.
    """

    def __init__(
        self,
        settings: Settings,
        gate: CallGate | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        require_v4(settings.base_url)  # Settings built in code skip from_env's checks
        self._settings = settings
        self._gate: CallGate = gate if gate is not None else PassThroughGate()
        self._sleep = sleep
        self._clock = clock
        self._retry = retry if retry is not None else RetryPolicy.from_settings(settings)
        self._backoff = wait_exponential_jitter(
            multiplier=self._retry.initial, max=self._retry.max, jitter=self._retry.jitter
        )
        self._holds: dict[str, float] = {}  # scope -> clock() before which nothing is sent
        # The server's clock: its last Date header and our clock() when it arrived.
        self._server_seen: tuple[datetime, float] | None = None
        self.retry_listeners: list[RetryListener] = []
        headers = {"User-Agent": settings.user_agent, "Accept": "application/json"}
        if settings.token:
            headers["Authorization"] = f"Token {settings.token.reveal()}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=True,
            # Redirects are followed here, one gated attempt per hop, same host only.
            follow_redirects=False,
            transport=transport,
        )

    # -- public API -------------------------------------------------------------------

    def iter_pages(
        self,
        spec: ResourceSpec,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        resume_url: str | None = None,
        fields: Sequence[str] | None = None,
        omit: Sequence[str] | None = None,
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> Iterator[Page]:
        """Pages of ``spec`` modified in ``[since, until)``, following ``next`` exactly.

        ``filters`` are a scope's server-side filters, already checked (courtflow.catalogue.scope).
        With ``resume_url`` (a ``next`` URL from a checkpoint) the walk starts there and the
        window/field/filter arguments are ignored: they are already inside the URL.
        """
        paginator = paginator_for(spec)
        url: str | None
        tied = _tie_field(spec)
        if resume_url is not None:
            url = require_same_origin(resume_url, self.base_url, what="resume_url")
            if tied is not None and ties.positionless(url):
                # Saved before courtflow knew the server's tie bug: the server would answer
                # 404; start the walk again at its first page (idempotent upserts).
                url = ties.restart(url)
        else:
            params = paginator.first_params(
                spec, since=since, until=until, fields=fields, omit=omit
            )
            url = join_url(self.base_url, spec.path, {**params, **(filters or {})})
        # Every URL of this walk: a 'next' back to any of them is a loop of some length,
        # which would otherwise run until killed. One URL per page: bounded by the window.
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            payload, fetched, attempts = self._get_json(spec.path, url)
            seen.add(fetched)
            results, next_url, count = paginator.read(payload, fetched)
            if tied is not None:
                next_url = ties.after_page(
                    field=tied, fetched=fetched, results=results, next_url=next_url
                )
            if next_url is not None:
                # A server that points pagination elsewhere must not receive the token.
                require_same_origin(next_url, self.base_url, what="next")
                if next_url in seen:
                    raise CursorLoopError(
                        f"GET {describe_url(fetched)}: 'next' leads back to a page already "
                        f"fetched in this walk ({len(seen)} pages): the server's cursor loops"
                    )
            yield Page(
                results=results,
                next_url=next_url,
                url=redact(fetched, self._settings.token),
                attempts=attempts,
                count=count,
            )
            url = next_url

    def count(
        self,
        spec: ResourceSpec,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> int:
        """Rows of ``spec`` (and ``filters``) in ``[since, until)``; one call."""
        paginator = paginator_for(spec)
        params: dict[str, str | Sequence[str]] = {
            **paginator.first_params(spec, since=since, until=until, fields=None, omit=()),
            **(filters or {}),
        }
        if spec.pagination == "cursor":
            params["count"] = "on"
            url = join_url(self.base_url, spec.path, params)
            payload, fetched, _ = self._get_json(spec.path, url)
            value = payload.get("count") if isinstance(payload, dict) else None
        else:
            url = join_url(self.base_url, spec.path, params)
            payload, fetched, _ = self._get_json(spec.path, url)
            value = paginator.read(payload, fetched)[2]
        if not isinstance(value, int) or isinstance(value, bool):
            where = describe_url(fetched)
            raise BadPayloadError(f"GET {where}: no integer 'count' in the response")
        return value

    def api_usage(self) -> ApiUsage:
        """Live rates and usage of this token; free of the main quota, so not gated here
        (its own budget is :mod:`courtflow.budget.usage_sync`'s). One attempt, never a
        wait: a 429 raises ThrottledError at once, so no sync is held up by it."""
        url = join_url(self.base_url, USAGE_PATH, {})
        payload, _, _ = self._get_json(USAGE_PATH, url, gated=False, attempts=1)
        return parse_api_usage(payload)

    def get(self, path_or_url: str, params: Mapping[str, str] | None = None) -> Any:
        """Any JSON GET (detail routes), with the same gating, errors and retries."""
        if "://" in path_or_url:
            url = require_same_origin(path_or_url, self.base_url, what="url")
            if params:
                url = str(httpx.URL(url).copy_merge_params(dict(params)))
        else:
            url = join_url(self.base_url, path_or_url, dict(params or {}))
        payload, _, _ = self._get_json(endpoint_of(url, self.base_url), url)
        return payload

    def fetch(self, path: str, url: str | None = None, params: Mapping[str, str] | None = None
              ) -> tuple[Any, str, int]:  # fmt: skip
        """Payload, final URL (token-free) and HTTP attempts of one gated GET of ``path``
        (or of ``url``, a ``next`` link, checked to stay on this origin)."""
        if url is not None:
            target = require_same_origin(url, self.base_url, what="url")
        else:
            target = join_url(self.base_url, path, dict(params or {}))
        payload, fetched, attempts = self._get_json(endpoint_of(target, self.base_url), target)
        return payload, redact(fetched, self._settings.token), attempts

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def server_time(self) -> datetime | None:
        """The server's clock as its last response's ``Date`` header said (None before
        any response, or when the server sends none). Window ends are clamped to it."""
        return self._server_seen[0] if self._server_seen else None

    def server_now(self) -> datetime | None:
        """The server's clock now: its last ``Date`` plus the time elapsed here since
        (our clock's rate, not its setting, is trusted). None before any response."""
        if self._server_seen is None:
            return None
        seen, at = self._server_seen
        return seen + timedelta(seconds=max(0.0, self._clock() - at))

    def _saw_date(self, response: httpx.Response) -> None:
        value = response.headers.get("date")
        if not value:
            return
        try:
            seen = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return  # a malformed Date tells nothing; the previous one still holds
        if seen.tzinfo is None:
            seen = seen.replace(tzinfo=UTC)  # RFC 9110: an HTTP date is always GMT
        self._server_seen = (seen.astimezone(UTC), self._clock())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CourtListenerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        token = "set" if self._settings.token else "none"
        return f"CourtListenerClient(base_url={self.base_url!r}, token={token})"

    # -- one logical request: redirect hops, each with its own retries ----------------

    def _get_json(
        self, endpoint: str, url: str, *, gated: bool = True, attempts: int | None = None
    ) -> tuple[Any, str, int]:
        """Payload, final URL and number of HTTP attempts of one GET."""
        call = _Call(endpoint=endpoint, url=url, gated=gated)
        for _hop in range(MAX_REDIRECTS + 1):
            retrying = Retrying(
                stop=stop_after_attempt(attempts or self._retry.attempts),
                wait=self._wait,
                retry=retry_if_exception(lambda e: should_retry(e, self._settings.max_sleep)),
                before_sleep=lambda state: self._tell_retry(call, state),
                sleep=self._sleep,
                reraise=True,
            )
            exchange: _Exchange = retrying(self._attempt, call)
            if exchange.location is None:
                return exchange.payload, call.url, call.attempts
            call.url = require_same_origin(exchange.location, self.base_url, what="redirect")
        raise BadRequestError(f"GET {describe_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _tell_retry(self, call: _Call, state: RetryCallState) -> None:
        if not self.retry_listeners or state.outcome is None:
            return
        error = state.outcome.exception()
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(error, ThrottledError):
            wait = max(wait, self._holds.get(call.scope, 0.0) - self._clock())
        parsed = httpx.URL(call.url)
        event = RetryEvent(
            endpoint=call.endpoint,
            url=redact(f"{parsed.scheme}://{parsed.netloc.decode()}{parsed.path}"),
            attempt=state.attempt_number,
            max_attempts=self._retry.attempts,
            error_class=type(error).__name__,
            reason=_short_reason(error, call.url, self._settings),
            wait_seconds=float(wait),
        )
        for listener in self.retry_listeners:
            listener(event)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, ThrottledError):
            return 0.0  # the Retry-After hold, checked after gate.reserve(), does the waiting
        return float(self._backoff(state))

    # -- one HTTP attempt: gate, send, classify, report, log --------------------------

    def _attempt(self, call: _Call) -> _Exchange:
        remaining = self._holds.get(call.scope, 0.0) - self._clock()
        if remaining > self._settings.max_sleep or (remaining > 0 and not call.gated):
            raise ThrottledError(
                f"GET {describe_url(call.url)}: server asked to wait {remaining:.0f} s more",
                retry_after=remaining,
            )
        # BudgetExhaustedError from the gate propagates untouched: no attempt was made.
        ticket = self._gate.reserve(call.endpoint) if call.gated else None
        call.attempts += 1
        remaining = self._holds.get(call.scope, 0.0) - self._clock()
        if remaining > 0:
            # Even when the gate let us through (PassThroughGate), honour Retry-After.
            self._sleep(remaining)
        started = time.perf_counter()
        try:
            exchange = self._exchange(call.url)
        except BaseException as exc:  # report the attempt even when something unexpected broke
            self._record(call, ticket, _Exchange(status=None), started, exc)
            raise
        if isinstance(exchange.error, ThrottledError):
            self._holds[call.scope] = self._clock() + exchange.error.retry_after
            if call.gated:
                self._gate.throttled(exchange.error.retry_after)
        self._record(call, ticket, exchange, started, exchange.error)
        if exchange.error is not None:
            raise exchange.error
        return exchange

    def _exchange(self, url: str) -> _Exchange:
        request = self._http.build_request("GET", url)
        where = describe_url(url)
        deadline = time.monotonic() + self._settings.request_deadline
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            return _Exchange(status=None, error=NetworkError(_transport_message(where, exc)))
        status = response.status_code
        self._saw_date(response)
        try:
            body = self._read_body(response, where, deadline)
        except (DeadlineExceededError, BodyTooLargeError) as exc:
            return _Exchange(status=status, error=exc)
        except httpx.TimeoutException as exc:
            return _Exchange(status=status, error=NetworkError(_transport_message(where, exc)))
        except httpx.HTTPError as exc:
            message = f"HTTP {status} on GET {where}: body truncated ({type(exc).__name__})"
            return _Exchange(status=status, error=BadPayloadError(message))
        finally:
            response.close()
        size = response.num_bytes_downloaded or len(body)  # wire bytes; decoded if unknown
        error = classify(response)
        if error is not None:
            return _Exchange(status=status, size=size, error=error)
        if status in REDIRECTS:
            location = str(request.url.join(response.headers["location"]))
            return _Exchange(status=status, size=size, location=location)
        try:
            payload = json.loads(body)
        except RecursionError:
            message = f"HTTP {status} on GET {where}: JSON nested too deeply to parse"
            return _Exchange(status=status, size=size, error=BadPayloadError(message))
        except ValueError:
            message = f"HTTP {status} on GET {where}: body is not valid JSON ({len(body)} bytes)"
            return _Exchange(status=status, size=size, error=BadPayloadError(message))
        return _Exchange(status=status, size=size, payload=payload)

    def _read_body(self, response: httpx.Response, where: str, deadline: float) -> bytes:
        """The body, within the request's total deadline and the size limit.

        The read timeout only bounds each read: a server trickling a byte at a time would
        hold the request forever. The deadline is checked after every chunk, so a request
        ends at most one read timeout past it.
        """
        limit = self._settings.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLargeError(
                f"HTTP {response.status_code} on GET {where}: body of {int(declared)} bytes "
                f"exceeds COURTFLOW_MAX_BODY_BYTES={limit}"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError(
                    f"HTTP {response.status_code} on GET {where}: body exceeds "
                    f"COURTFLOW_MAX_BODY_BYTES={limit}"
                )
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise DeadlineExceededError(
                    f"GET {where}: no complete response within "
                    f"COURTFLOW_REQUEST_DEADLINE={self._settings.request_deadline:g}s "
                    f"({size} bytes received)"
                )
        body = b"".join(chunks)
        # What Response.read() does after the same loop: classify() reads .content.
        response._content = body
        return body

    def _record(
        self,
        call: _Call,
        ticket: Ticket | None,
        exchange: _Exchange,
        started: float,
        error: BaseException | None,
    ) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000.0, 3)
        outcome = _outcome(error)
        error_class = type(error).__name__ if error is not None else None
        url = redact(call.url, self._settings.token)
        logger.info(
            "GET %s -> %s %s in %.0f ms (attempt %d)",
            describe_url(url),
            exchange.status if exchange.status is not None else "-",
            outcome,
            duration_ms,
            call.attempts,
            extra={
                "event": "api_call",
                "endpoint": call.endpoint,
                "status_code": exchange.status,
                "duration_ms": duration_ms,
                "attempt": call.attempts,
                "bytes": exchange.size,
                "outcome": outcome,
                "url": url,
                "error_class": error_class,
                "gated": call.gated,
            },
        )
        if ticket is not None:
            report = CallReport(
                status=exchange.status,
                outcome=outcome,
                duration_ms=duration_ms,
                bytes=exchange.size,
                attempt=call.attempts,
                error_class=error_class,
            )
            self._gate.report(ticket, report)


def _tie_field(spec: ResourceSpec) -> str | None:
    """The ordering field whose ties :mod:`courtflow.client.ties` walks past, if any."""
    order = spec.order_by
    if spec.pagination != "cursor" or order.startswith("-") or order == ties.TIE_ORDER:
        return None
    return order


def _outcome(error: BaseException | None) -> Outcome:
    if error is None:
        return "ok"
    if isinstance(error, ThrottledError | BlockedError):
        return "throttled"
    if isinstance(error, GoneError):
        return "gone"
    if isinstance(error, BadPayloadError):
        return "bad_payload"
    if isinstance(error, NetworkError) or not isinstance(error, CourtflowError):
        return "network"
    return "http_error"


def _short_reason(error: BaseException | None, url: str, settings: Settings) -> str:
    """The error's message on one short line, without the URL (the event names it)."""
    where = describe_url(url)
    text = str(error).replace(f" on GET {where}", "").replace(f"GET {where}: ", "")
    text = " ".join(redact(text, settings.token).split())
    # An HTML error page (a proxy's, a framework's) says nothing the status does not.
    text = text.split("<", 1)[0].rstrip(": ")
    return text if len(text) <= 120 else text[:117] + "..."


def _transport_message(where: str, exc: httpx.HTTPError) -> str:
    # httpx messages name host and errno, never headers; redact anyway.
    return redact(f"GET {where}: {type(exc).__name__}: {exc}")
