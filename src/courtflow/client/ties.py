"""Walking past the server's tied-timestamp cursor bug: exact, resumable, URL only.

When the first page of a cursor walk and the row after it share one ordering value
(a bulk update gives 21+ rows one ``date_modified``), Django REST framework links to a
cursor with an offset and no position (``cursor=bz0yMA==``, ``o=20``), and the
server answers its own link with 404 "Invalid cursor" (``cl/api/pagination.py``
classifies the missing position as neither int nor date). Following it is useless.

Instead the walk goes on in two legs, each an ordinary cursor walk the server pages
correctly, with every other parameter (the window's end, the scope's filters, fields)
kept:

1. the tied instant ``T``: ``date_modified=T`` (exact) ordered by ``id`` (unique, so its
   cursor always has a position);
2. the rest of the window: ``date_modified__gt=T`` ordered by ``date_modified``, which is
   itself a first page and is checked again.

Each leg is just a URL, so a checkpoint holding any of them resumes exactly.

>>> nxt = after_page(field="date_modified", fetched=url, results=rows, next_url=nxt)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from courtflow.client.paging import format_utc
from courtflow.errors import BadPayloadError

_DROP = ("cursor", "order_by")
TIE_ORDER = "id"


def positionless(url: str) -> bool:
    """Whether ``url`` carries a cursor with an offset and no position (the server's bug)."""
    value = httpx.URL(url).params.get("cursor")
    if not value:
        return False
    try:
        decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("ascii")
        tokens = parse_qs(decoded, keep_blank_values=True)
    except (binascii.Error, UnicodeError, ValueError):
        return False
    return "o" in tokens and "p" not in tokens


def is_tie_leg(url: str, field: str) -> bool:
    """Whether ``url`` walks one tied instant of ``field`` (leg 1 above)."""
    params = httpx.URL(url).params
    return params.get("order_by") == TIE_ORDER and field in params and field != TIE_ORDER


def tie_leg(url: str, field: str, instant: datetime) -> str:
    """Leg 1: every row of ``url``'s walk at exactly ``instant``, ordered by id."""
    return _rewrite(url, field, {"order_by": TIE_ORDER, field: format_utc(instant)})


def rest_leg(url: str, field: str) -> str:
    """Leg 2 after the tie leg ``url``: the window's rows strictly after its instant."""
    instant = httpx.URL(url).params[field]
    return _rewrite(url, field, {"order_by": field, f"{field}__gt": instant})


def restart(url: str) -> str:
    """The first page of the walk a positionless ``url`` belongs to (its cursor dropped)."""
    return str(httpx.URL(url).copy_remove_param("cursor"))


def after_page(
    *, field: str, fetched: str, results: Sequence[dict[str, Any]], next_url: str | None
) -> str | None:
    """The URL to fetch after a page of a walk ordered by ``field`` ascending.

    The server's ``next`` as given, except: a positionless ``next`` becomes the tie leg
    of the page's instant, and the end of a tie leg becomes the rest of the window.
    """
    if next_url is not None and positionless(next_url):
        if not results:
            raise BadPayloadError("a positionless cursor after an empty page: cannot resume")
        return tie_leg(fetched, field, _instant(results[-1], field))
    if next_url is None and is_tie_leg(fetched, field):
        return rest_leg(fetched, field)
    return next_url


def _rewrite(url: str, field: str, new: dict[str, str]) -> str:
    parsed = httpx.URL(url)
    lower = (field, f"{field}__gte", f"{field}__gt")
    kept = [(k, v) for k, v in parsed.params.multi_items() if k not in (*_DROP, *lower)]
    return str(parsed.copy_with(params=[*kept, *new.items()]))


def _instant(row: dict[str, Any], field: str) -> datetime:
    text = row.get(field)
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise BadPayloadError(f"{field} is not an ISO 8601 timestamp: {text!r}") from None
    if moment.tzinfo is None:
        raise BadPayloadError(f"{field} has no time zone: {text!r}")
    return moment.astimezone(UTC)
