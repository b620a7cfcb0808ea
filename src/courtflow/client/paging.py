"""Pagination styles as small strategies: the first request's parameters and how to read a page.

Both styles follow the server's ``next`` URL exactly; neither ever builds a page number
or a cursor itself (deep page numbers are refused by the server, cursors are opaque).

>>> paginator = paginator_for(spec)              # CursorPaginator or PageNumberPaginator
>>> params = paginator.first_params(spec, since=..., until=..., fields=None, omit=None)
>>> results, next_url, count = paginator.read(payload, url)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from courtflow.catalogue.resources import ResourceSpec
from courtflow.errors import BadPayloadError

# Results, ``next`` URL, integer count (None for cursor endpoints).
Parsed = tuple[tuple[dict[str, Any], ...], str | None, int | None]

CURSOR_ORDERINGS = frozenset(
    {"id", "date_created", "date_modified", "-id", "-date_created", "-date_modified"}
)


@dataclass(frozen=True)
class Page:
    """One page of a listing.

    ``next_url`` is what a checkpoint saves to resume; ``url`` is what was fetched (no
    token: authentication travels in a header). ``attempts`` counts the HTTP attempts
    spent on this page, retries and redirects included. ``count`` is the integer total of
    page-number endpoints, None for cursor endpoints (whose ``count`` is a URL).
    """

    results: tuple[dict[str, Any], ...]
    next_url: str | None
    url: str
    attempts: int
    count: int | None = None


class Paginator(Protocol):
    def first_params(
        self,
        spec: ResourceSpec,
        *,
        since: datetime | None,
        until: datetime | None,
        fields: Sequence[str] | None,
        omit: Sequence[str] | None,
    ) -> dict[str, str]:
        """Query parameters of the first page (later pages use ``next`` as given)."""
        ...

    def read(self, payload: Any, url: str) -> Parsed:
        """Results, ``next`` URL and integer count (or None) of one response body."""
        ...


def window_params(
    spec: ResourceSpec,
    *,
    since: datetime | None,
    until: datetime | None,
    fields: Sequence[str] | None,
    omit: Sequence[str] | None,
) -> dict[str, str]:
    """The ``date_modified`` window and field selection shared by both styles."""
    params: dict[str, str] = {}
    if since is not None:
        params["date_modified__gte"] = format_utc(since)
    if until is not None:
        params["date_modified__lt"] = format_utc(until)
    if fields:
        params["fields"] = ",".join(fields)
    chosen = spec.default_omit if fields is None and omit is None else tuple(omit or ())
    if chosen:
        params["omit"] = ",".join(chosen)
    return params


class CursorPaginator:
    """v4 cursor pagination: ``order_by`` on a cursor field, ``count`` is a URL."""

    def first_params(
        self,
        spec: ResourceSpec,
        *,
        since: datetime | None,
        until: datetime | None,
        fields: Sequence[str] | None,
        omit: Sequence[str] | None,
    ) -> dict[str, str]:
        if spec.order_by not in CURSOR_ORDERINGS:
            # Any other ordering silently switches the server to page numbers (max 100 pages).
            raise ValueError(f"{spec.name}: order_by={spec.order_by!r} is not a cursor ordering")
        params = {"order_by": spec.order_by}
        params.update(window_params(spec, since=since, until=until, fields=fields, omit=omit))
        return params

    def read(self, payload: Any, url: str) -> Parsed:
        results, next_url = _results_and_next(payload, url)
        return results, next_url, None


class PageNumberPaginator:
    """Plain page numbers (``courts``): default ordering, integer ``count``, ``next`` = ?page=N."""

    def first_params(
        self,
        spec: ResourceSpec,
        *,
        since: datetime | None,
        until: datetime | None,
        fields: Sequence[str] | None,
        omit: Sequence[str] | None,
    ) -> dict[str, str]:
        return window_params(spec, since=since, until=until, fields=fields, omit=omit)

    def read(self, payload: Any, url: str) -> Parsed:
        results, next_url = _results_and_next(payload, url)
        count = payload.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise BadPayloadError(f"GET {_path(url)}: 'count' is not an integer: {count!r}")
        return results, next_url, count


def paginator_for(spec: ResourceSpec) -> Paginator:
    return CursorPaginator() if spec.pagination == "cursor" else PageNumberPaginator()


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; naive datetimes are refused (their zone is a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} : pass an aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _results_and_next(payload: Any, url: str) -> tuple[tuple[dict[str, Any], ...], str | None]:
    if not isinstance(payload, dict):
        kind = type(payload).__name__
        raise BadPayloadError(f"GET {_path(url)}: expected a JSON object, got {kind}")
    results = payload.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise BadPayloadError(f"GET {_path(url)}: 'results' is missing or not a list of objects")
    next_url = payload.get("next")
    if next_url is not None and not (isinstance(next_url, str) and next_url):
        raise BadPayloadError(f"GET {_path(url)}: 'next' is not a URL: {next_url!r}")
    return tuple(results), next_url


def _path(url: str) -> str:
    return httpx.URL(url).path
