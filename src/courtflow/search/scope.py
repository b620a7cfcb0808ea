"""A search scope: a type, a query and its form filters, checked before any call.

The scope's key (its canonical query string) keys its checkpoints, its watermark and
its matches; two scopes that differ only in the order of their filters are one scope.

>>> SearchScope.of("o", "qualified immunity", {"court": "ca9"}).key      # doctest: +SKIP
'court=ca9&q=qualified+immunity'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import get_close_matches
from urllib.parse import urlencode

from courtflow.catalogue.window import Window
from courtflow.errors import ConfigError
from courtflow.search.form import (
    BOOLEAN_FIELDS,
    DATE_FILTERS,
    FORM_FIELDS,
    INTEGER_FIELDS,
    STATUS_NAMES,
    TYPES,
    SearchType,
)

# Set by courtflow from the scope and the window, never by the user.
_MANAGED = frozenset({"type", "q", "order_by", "cursor"})
_COURT_ID = re.compile(r"^[a-z0-9_-]+$")
_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"off", "false", "0", "no", ""}


@dataclass(frozen=True)
class SearchScope:
    """A checked search: ``type``, ``q`` and the form filters in sorted order."""

    type: str
    q: str = ""
    filters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, type_code: str, q: str = "", filters: Mapping[str, object] | None = None) -> (
        SearchScope
    ):
        """Checks the type and every filter against the server's form (no call spent)."""
        kind = search_type(type_code)
        checked = {name: _check(kind, name, value) for name, value in (filters or {}).items()}
        if "\x00" in q:
            raise ConfigError("--q must not contain NUL characters")
        return cls(kind.code, q.strip(), tuple(sorted(checked.items())))

    @property
    def kind(self) -> SearchType:
        return TYPES[self.type]

    @property
    def key(self) -> str:
        """Canonical form of the query and filters (the type is the resource's part)."""
        return urlencode((("q", self.q), *self.filters))

    @property
    def label(self) -> str:
        return f"search/?type={self.type}&{self.key}"

    def params(self, window: Window | None) -> dict[str, str]:
        """The first page's query: type, q, filters, the walk's order and the window.

        Windows are whole UTC days ``[start, end)``; the form's date filters are whole
        days with both ends inclusive (FloorDateOrRelativeField/CeilingDate...), so the
        last day of the window is ``end - 1 day``.
        """
        params = {"type": self.type, "q": self.q, **dict(self.filters)}
        params["order_by"] = self.kind.walk_order
        prefix = self.kind.date_filter
        if window is not None and prefix is not None:
            first, last = window_days(window)
            params[f"{prefix}_after"] = first.isoformat()
            params[f"{prefix}_before"] = last.isoformat()
        return params

    def __str__(self) -> str:
        return self.label


def search_type(code: str) -> SearchType:
    kind = TYPES.get(code)
    if kind is None:
        raise ConfigError(
            f"unknown search type {code!r}; one of {', '.join(TYPES)} "
            "(o opinions, r RECAP dockets with documents, rd RECAP documents, d dockets, "
            "p people, oa oral arguments)"
        )
    return kind


def check_order_by(kind: SearchType, value: str) -> str:
    """An order_by that applies to the type (used by plans that sort differently)."""
    if value not in kind.order_by:
        raise ConfigError(
            f"order_by {value!r} does not apply to type {kind.code}; "
            f"its choices: {', '.join(repr(c) for c in kind.order_by)}"
        )
    return value


def window_days(window: Window) -> tuple[date, date]:
    """First and last (inclusive) day of a whole-day window."""
    start, end = window.start, window.end
    if (start.hour, start.minute, start.second, start.microsecond) != (0, 0, 0, 0) or (
        end.hour, end.minute, end.second, end.microsecond
    ) != (0, 0, 0, 0):
        raise ConfigError(f"a search window is whole UTC days, got {window}")
    if end <= start:
        raise ConfigError(f"a search window must span at least one day, got {window}")
    return start.date(), (end - timedelta(days=1)).date()


def _check(kind: SearchType, name: str, value: object) -> str:
    text = str(value).strip()
    if name == "order_by":
        # The walk orders by the type's own date; another order would break the windows.
        check_order_by(kind, text)
        raise ConfigError(
            f"order_by is set by courtflow ({kind.walk_order!r}: windows are walked oldest "
            "first by the type's own date); leave it out"
        )
    if name in _MANAGED:
        raise ConfigError(f"{name} is set by courtflow, not as a filter (use --type/--q)")
    if name.startswith("court_") or name.startswith("stat_"):
        return _check_checkbox(kind, name, text)
    if name not in FORM_FIELDS:
        near = get_close_matches(name, sorted(FORM_FIELDS), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise ConfigError(
            f"{name!r} is not a field of the server's search form{hint}: the server would "
            "silently ignore it and return a wider result set"
        )
    for prefix in DATE_FILTERS:
        if name in (f"{prefix}_after", f"{prefix}_before"):
            if prefix == kind.date_filter:
                raise ConfigError(
                    f"{name} is the window of a type {kind.code} walk: use --since/--until"
                )
            return _check_date(name, text)
    if name in INTEGER_FIELDS:
        if not re.fullmatch(r"-?\d+", text):
            raise ConfigError(f"{name} must be a whole number, got {text!r}")
        return str(int(text))
    if name in BOOLEAN_FIELDS:
        if text.lower() not in _TRUE | _FALSE:
            raise ConfigError(f"{name} must be on or off, got {text!r}")
        return "on" if text.lower() in _TRUE else ""
    if name == "court":
        ids = text.replace(",", " ").split()
        bad = [c for c in ids if not _COURT_ID.match(c)]
        if not ids or bad:
            raise ConfigError(f"court must be court ids separated by spaces, got {text!r}")
        return " ".join(sorted(set(ids)))
    if not text:
        raise ConfigError(f"{name} is empty")
    return text


def _check_checkbox(kind: SearchType, name: str, text: str) -> str:
    if name.startswith("stat_") and name[5:] not in STATUS_NAMES:
        raise ConfigError(f"{name}: no such precedential status; one of {sorted(STATUS_NAMES)}")
    if name.startswith("court_") and not _COURT_ID.match(name[6:]):
        raise ConfigError(f"{name}: not a court id")
    if text.lower() not in _TRUE | _FALSE:
        raise ConfigError(f"{name} must be on or off, got {text!r}")
    return "on" if text.lower() in _TRUE else ""


def _check_date(name: str, text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD, got {text!r}") from None
