"""URL building and the same-origin rule that keeps the token on the configured host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from courtflow.errors import BadPayloadError
from courtflow.redact import redact

_DEFAULT_PORTS = {"http": 80, "https": 443}


def join_url(base_url: str, path: str, params: Mapping[str, str | Sequence[str]]) -> str:
    """``base_url`` + relative ``path`` + encoded ``params`` (used for first requests only);
    a list value is a repeated parameter (``type=010combined&type=020lead``)."""
    url = httpx.URL(base_url.rstrip("/") + "/" + path.lstrip("/"))
    if params:
        url = url.copy_merge_params(dict(params))
    return str(url)


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


def require_same_origin(url: str, base_url: str, *, what: str) -> str:
    """Return ``url`` unchanged when scheme, host and port match ``base_url``.

    Otherwise raise :class:`BadPayloadError`: the Authorization header must never reach
    another host, nor travel over a downgraded scheme.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise BadPayloadError(f"{what} URL is not a valid URL: {redact(url)[:200]!r}") from None
    if not parsed.is_absolute_url or origin(parsed) != origin(httpx.URL(base_url)):
        shown = f"{parsed.scheme}://{parsed.host}" if parsed.is_absolute_url else "a relative URL"
        raise BadPayloadError(
            f"{what} URL leaves the configured API host ({shown}); refused to send the token there"
        )
    return url


def endpoint_of(url: str, base_url: str) -> str:
    """The resource a URL belongs to, as budgets count it: ``clusters/`` for ``clusters/5/``."""
    path = httpx.URL(url).path
    base_path = httpx.URL(base_url).path.rstrip("/") + "/"
    relative = path[len(base_path) :] if path.startswith(base_path) else path.lstrip("/")
    first = relative.split("/", 1)[0]
    return f"{first}/" if first else "/"
