"""What a response means, and whether trying again can help.

:func:`classify` is the one place that maps an HTTP status to the error hierarchy;
:func:`should_retry` is the retry predicate built on :func:`courtflow.errors.is_transient`.
:class:`RetryPolicy` is the backoff, built once from :class:`~courtflow.config.Settings`.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from courtflow.config import Settings
from courtflow.errors import (
    AuthError,
    BadPayloadError,
    BadRequestError,
    BlockedError,
    CourtflowError,
    GoneError,
    NetworkError,
    NotFoundError,
    ServerError,
    ThrottledError,
    is_transient,
)
from courtflow.redact import redact

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DETAIL_CHARS = 120
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: wait ``min(max, initial * 2**(n-1) + U(0, jitter))``.

    ``attempts`` counts every try of one request, the first included.
    """

    attempts: int = 5
    initial: float = 0.5
    max: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.initial < 0 or self.max < 0 or self.jitter < 0:
            raise ValueError("RetryPolicy waits must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(attempts=settings.max_attempts, max=min(30.0, settings.max_sleep))


def should_retry(exc: BaseException, max_sleep: float) -> bool:
    """Retry transient errors, except a Retry-After longer than the caller lets us sleep.

    Such a 429 is raised instead, so an Airflow task can defer rather than hold a worker.
    """
    if isinstance(exc, ThrottledError) and exc.retry_after > max_sleep:
        return False
    return is_transient(exc)


def classify(response: httpx.Response) -> CourtflowError | None:
    """The error a response stands for, or None when it is a success or a redirect to follow.

    The body must have been read. Messages hold status, path and the server's ``detail``,
    never a header value.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    if status in REDIRECTS:
        if response.headers.get("location"):
            return None
        return BadPayloadError(_message(response, "redirect without a Location header"))
    if status in (401, 403):
        return AuthError(_message(response))
    if status == 404:
        return NotFoundError(_message(response, "not found (a wrong path, page or cursor)"))
    if status == 410:
        return GoneError(_message(response))
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            return BlockedError(_message(response, "throttled without Retry-After: blocked"))
        # Say when room comes back: a daily window's wait is hours, and the task defers.
        back = datetime.now(UTC) + timedelta(seconds=retry_after)
        note = f"room again at {back.isoformat(timespec='seconds')}"
        return ThrottledError(_message(response, note), retry_after=retry_after)
    if status == 408:
        return NetworkError(_message(response))
    if status >= 500:
        return ServerError(_message(response))
    if 400 <= status < 500:
        return BadRequestError(_message(response))
    return BadPayloadError(_message(response, "unexpected status"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (whole seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def server_detail(response: httpx.Response) -> str:
    """The server's own explanation: ``detail`` (+ ``unknown_params``), else a body excerpt."""
    try:
        payload: Any = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict):
        parts = []
        if "detail" in payload:
            parts.append(str(payload["detail"]))
        if "unknown_params" in payload:
            parts.append(f"unknown_params={payload['unknown_params']!r}")
        if parts:
            return " ".join(parts)
        text = json.dumps(payload)
    else:
        text = _plain(response.content.decode("utf-8", "replace"))
    return _shorten(text)


def _plain(body: str) -> str:
    """An HTML error page (a proxy's, Django's 404) as its title or heading, tags dropped."""
    if "<" not in body:
        return body
    found = _TITLE.search(body) or _H1.search(body)
    return _TAG.sub(" ", found.group(1) if found else body)


def _shorten(text: str) -> str:
    text = " ".join(html.unescape(text).split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def describe_url(url: httpx.URL | str) -> str:
    """Path and query of a URL, host left out and anything token-shaped redacted."""
    parsed = httpx.URL(str(url))
    query = parsed.query.decode("ascii", "replace")
    return redact(parsed.path + (f"?{query}" if query else ""))


def _message(response: httpx.Response, note: str | None = None) -> str:
    detail = server_detail(response)
    text = f"HTTP {response.status_code} on GET {describe_url(response.request.url)}"
    if note:
        text += f" ({note})"
    if detail:
        text += f": {detail}"
    return redact(text)
