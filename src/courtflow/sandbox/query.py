"""Query strings of list endpoints: known parameters, filters, ordering, fields.

Unknown parameters are refused with 400 as the server's
``UnknownFilterParamValidationBackend`` does; bad filter values with django-filter's
400 shape (``{"<param>": ["Enter a valid date/time."]}``). The known filters are the
catalogue's (:mod:`courtflow.catalogue.filtersets`); a resource whose viewset has no filter set
(``originating-court-information``, ``bankruptcy-information``) validates and filters
nothing, as the server does. Range lookups on a row's own id and timestamps become
:class:`Span` s (bisected); every other filter a :class:`Condition` checked row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from courtflow.catalogue.filtersets import FILTER_SET_OF
from courtflow.sandbox.filtering import BadValue, Condition, compile_condition, split_param
from courtflow.sandbox.timefmt import parse_query_datetime

PAGE_SIZE = 20
CURSOR_ORDERINGS = frozenset(
    {"id", "-id", "date_created", "-date_created", "date_modified", "-date_modified"}
)
DEFAULT_ORDERING = "-id"  # the viewsets' own ordering: v4 cursor pagination without order_by
CONTROL_PARAMS = frozenset({"order_by", "cursor", "page", "count", "fields", "omit", "format"})
_LOOKUPS = ("", "gte", "gt", "lte", "lt", "range")
_RANGE_LOOKUPS = tuple(f"__{lookup}" if lookup else "" for lookup in _LOOKUPS)
_SPAN_FIELDS = ("id", "date_created", "date_modified")


class ApiError(Exception):
    """An answer other than 200, with the server's JSON body."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = dict(body)


@dataclass(frozen=True)
class Span:
    """An integer half-open interval ``[lo, hi)``; None means unbounded."""

    lo: int | None = None
    hi: int | None = None

    def narrow(self, lo: int | None = None, hi: int | None = None) -> Span:
        new_lo = self.lo if lo is None else (lo if self.lo is None else max(self.lo, lo))
        new_hi = self.hi if hi is None else (hi if self.hi is None else min(self.hi, hi))
        return Span(new_lo, new_hi)

    def holds(self, value: int) -> bool:
        return (self.lo is None or value >= self.lo) and (self.hi is None or value < self.hi)


@dataclass(frozen=True)
class ListQuery:
    ordering: str | None = None  # the requested ``order_by`` (None: absent)
    cursor: str | None = None
    page: str | None = None
    count: bool = False
    fields: tuple[str, ...] = ()
    omit: tuple[str, ...] = ()
    spans: Mapping[str, Span] = field(default_factory=dict)  # id / date_* -> interval
    conditions: tuple[Condition, ...] = ()  # every other filter, checked row by row

    @property
    def cursor_mode(self) -> bool:
        ordering = DEFAULT_ORDERING if self.ordering is None else self.ordering
        return ordering in CURSOR_ORDERINGS

    @property
    def effective_ordering(self) -> str:
        ordering = DEFAULT_ORDERING if self.ordering is None else self.ordering
        return ordering if ordering in CURSOR_ORDERINGS else DEFAULT_ORDERING


def is_known(resource: str, name: str) -> bool:
    """Whether the server's validation backend lets parameter ``name`` through."""
    if name in CONTROL_PARAMS or resource not in FILTER_SET_OF:
        return True
    return split_param(resource, name) is not None


def parse_list_query(resource: str, params: Iterable[tuple[str, str]]) -> ListQuery:
    """Validate and interpret one list request's parameters: the last value of a repeated
    parameter wins (``QueryDict.get``), except for a ``MultipleChoiceFilter``, which reads
    them all (``type=010combined&type=020lead``) and checks each against its choices."""
    repeated: dict[str, list[str]] = {}
    for name, value in params:
        repeated.setdefault(name, []).append(value)
    values = {name: items[-1] for name, items in repeated.items()}
    unknown = sorted(n for n in values if not is_known(resource, n))
    if unknown:
        raise ApiError(
            400,
            {"detail": "Unknown filter parameters are not allowed.", "unknown_params": unknown},
        )
    if values.get("format", "json") != "json":
        raise ApiError(404, {"detail": "Not found."})
    spans: dict[str, Span] = {}
    conditions: list[Condition] = []
    errors: dict[str, list[str]] = {}
    filtered = resource in FILTER_SET_OF  # without a filter set the server filters nothing
    for name, value in values.items():
        if name in CONTROL_PARAMS or not filtered:
            continue
        base, _, lookup = name.partition("__")
        if base in _SPAN_FIELDS and lookup in _LOOKUPS and resource != "courts":
            try:
                spans[base] = _narrow(spans.get(base, Span()), base, lookup, value)
            except ValueError:
                errors[name] = [_invalid_message(base)]
            continue
        try:
            conditions.append(compile_condition(resource, name, repeated[name]))
        except BadValue as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ApiError(400, errors)
    return ListQuery(
        ordering=values.get("order_by"),
        cursor=values.get("cursor"),
        page=values.get("page"),
        count=values.get("count") == "on",
        fields=_names(values.get("fields")),
        omit=_names(values.get("omit")),
        spans=spans,
        conditions=tuple(conditions),
    )


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",") if n.strip()) if value else ()


def _invalid_message(base: str) -> str:
    return "Enter a whole number." if base == "id" else "Enter a valid date/time."


def _parse(base: str, text: str) -> int:
    if base == "id":
        return int(text.strip())
    return parse_query_datetime(text)


def _narrow(span: Span, base: str, lookup: str, value: str) -> Span:
    # Values are integers (ids, microseconds): "> v" is ">= v + 1", "<= v" is "< v + 1".
    if lookup == "range":
        low, _, high = value.partition(",")
        return span.narrow(_parse(base, low), _parse(base, high) + 1)
    v = _parse(base, value)
    return {
        "": lambda: span.narrow(v, v + 1),
        "gte": lambda: span.narrow(lo=v),
        "gt": lambda: span.narrow(lo=v + 1),
        "lte": lambda: span.narrow(hi=v + 1),
        "lt": lambda: span.narrow(hi=v),
    }[lookup]()
