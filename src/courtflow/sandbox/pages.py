"""Cursor and page-number pagination over one :class:`Table` (call under the data lock).

A listing is a traversal of one ordering (ascending, or descending for ``-field``)
restricted by bisection to the filter's interval on that same field; any other filter
is checked row by row while walking, so a page costs O(log n + page) when the ordering
field is the one filtered (the incremental-sync case).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from courtflow.sandbox.cursor import (
    Cursor,
    InvalidCursor,
    decode,
    key_of,
    position_of,
    positionless,
)
from courtflow.sandbox.index import MIN_ID, SORT_FIELDS, Key, Table
from courtflow.sandbox.query import PAGE_SIZE, ApiError, ListQuery, Span

MAX_PAGE = 100
NOT_AN_INTEGER = "Invalid page: That page number is not an integer"
DEEP_PAGE = "Invalid page: Deep API pagination is not allowed. Please review API documentation."


@dataclass(frozen=True)
class CursorPage:
    slots: list[int]
    next: Cursor | None
    previous: Cursor | None


@dataclass(frozen=True)
class NumberPage:
    slots: list[int]
    count: int
    number: int
    has_next: bool


class _Walk:
    """Traversal positions ``0..size-1`` over the slots of one ordering and interval."""

    def __init__(self, table: Table, query: ListQuery, field: str, descending: bool) -> None:
        self.slots, self.key = table.order(field)
        span = query.spans.get(field)
        self.lo, self.hi = 0, len(self.slots)
        if span is not None and span.lo is not None:
            self.lo = bisect_left(self.slots, (span.lo, MIN_ID), key=self.key)
        if span is not None and span.hi is not None:
            self.hi = max(self.lo, bisect_left(self.slots, (span.hi, MIN_ID), key=self.key))
        self.descending = descending
        self.size = self.hi - self.lo

    def at(self, t: int) -> int:
        return self.slots[self.hi - 1 - t] if self.descending else self.slots[self.lo + t]

    def after(self, key: Key) -> int:
        """First position strictly after ``key`` in traversal order."""
        if self.descending:
            return self.hi - bisect_left(self.slots, key, self.lo, self.hi, key=self.key)
        return bisect_right(self.slots, key, self.lo, self.hi, key=self.key) - self.lo

    def before(self, key: Key) -> int:
        """Last position strictly before ``key`` in traversal order (-1 if none)."""
        if self.descending:
            return self.hi - bisect_right(self.slots, key, self.lo, self.hi, key=self.key) - 1
        return bisect_left(self.slots, key, self.lo, self.hi, key=self.key) - self.lo - 1


def matcher(table: Table, query: ListQuery, ordered_by: str | None) -> Callable[[int], bool] | None:
    """The checks the ordering's bisection does not cover, or None when there are none."""
    checks: list[Callable[[int], bool]] = []
    for field in SORT_FIELDS:
        span = query.spans.get(field)
        if span is not None and field != ordered_by:
            checks.append(_span_check(table, field, span))
    for condition in query.conditions:
        checks.append(table.condition_check(condition))
    live = table.live_check()
    if live is not None:
        checks.append(live)
    if not checks:
        return None
    return lambda s: all(check(s) for check in checks)


def _span_check(table: Table, field: str, span: Span) -> Callable[[int], bool]:
    return lambda slot: span.holds(table.value(slot, field))


def _collect(
    walk: _Walk, start: int, step: int, want: int, ok: Callable[[int], bool] | None
) -> list[int]:
    found: list[int] = []
    t = start
    while 0 <= t < walk.size and len(found) < want:
        slot = walk.at(t)
        if ok is None or ok(slot):
            found.append(slot)
        t += step
    return found


def cursor_page(table: Table, query: ListQuery, size: int = PAGE_SIZE) -> CursorPage:
    ordering = query.effective_ordering
    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    walk = _Walk(table, query, field, descending)
    ok = matcher(table, query, field)
    cursor, key = None, (0, 0)
    if query.cursor is not None:
        try:
            cursor = decode(query.cursor)
            key = key_of(cursor, field)
        except InvalidCursor:
            raise ApiError(404, {"detail": "Invalid cursor"}) from None

    def boundary(slot: int, reverse: bool) -> Cursor:
        value = table.value(slot, field)
        return Cursor(position_of(field, value), table.ids[slot], reverse)

    if cursor is None or not cursor.reverse:
        start = 0 if cursor is None else walk.after(key)
        found = _collect(walk, start, +1, size + 1, ok)
        slots = found[:size]
        nxt = boundary(slots[-1], False) if len(found) > size else None
        if cursor is None and nxt is not None and _all_tied(table, found, field):
            nxt = positionless(size)  # the server's own bug, reproduced: see positionless()
        prev = None
        if cursor is not None:
            prev = (
                boundary(slots[0], True) if slots else Cursor(cursor.position, cursor.tie_id, True)
            )
        return CursorPage(slots, nxt, prev)
    found = _collect(walk, walk.before(key), -1, size + 1, ok)
    slots = list(reversed(found[:size]))
    prev = boundary(slots[0], True) if len(found) > size else None
    nxt = boundary(slots[-1], False) if slots else Cursor(cursor.position, cursor.tie_id, False)
    return CursorPage(slots, nxt, prev)


def _all_tied(table: Table, slots: list[int], field: str) -> bool:
    """Whether every row of a first page and the row after it share one ordering value."""
    return len({table.value(slot, field) for slot in slots}) == 1


def count(table: Table, query: ListQuery) -> int:
    """Rows matching the filters, walking the narrowest bisected interval."""
    best: _Walk | None = None
    for field in SORT_FIELDS:
        walk = _Walk(table, query, field, False)
        if best is None or walk.size < best.size:
            best, best_field = walk, field
    assert best is not None
    ok = matcher(table, query, best_field)
    if ok is None:
        return best.size
    return sum(1 for t in range(best.size) if ok(best.at(t)))


def whole_page(text: str | None, deepest: int | None = MAX_PAGE) -> int:
    """A ``page`` parameter as the server reads it (1 when absent); 404 when unusable."""
    if text is None:
        return 1
    try:
        number = int(text)
    except ValueError:
        raise ApiError(404, {"detail": NOT_AN_INTEGER}) from None
    if deepest is not None and number > deepest:
        raise ApiError(404, {"detail": DEEP_PAGE})
    if number < 1:
        raise ApiError(404, {"detail": "Invalid page: That page number is less than 1"})
    return number


def number_page(table: Table, query: ListQuery, size: int = PAGE_SIZE) -> NumberPage:
    """Page-number pagination in the viewsets' default order (``-id``), 100 pages deep."""
    number = whole_page(query.page)
    walk = _Walk(table, query, "id", True)
    ok = matcher(table, query, "id")
    total = count(table, query)
    last = max(1, -(-total // size))
    if number > last:
        raise ApiError(404, {"detail": "Invalid page."})
    if ok is None:
        slots = [walk.at(t) for t in range((number - 1) * size, min(number * size, walk.size))]
    else:
        slots = _collect(walk, 0, +1, number * size, ok)[(number - 1) * size :]
    return NumberPage(slots=slots, count=total, number=number, has_next=number < last)
