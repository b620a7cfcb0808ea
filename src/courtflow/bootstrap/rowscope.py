"""A scope's filters evaluated on an export's own columns (no API call, no join).

``court=scotus`` on dockets reads the file's ``court_id``; ``date_filed__gte=...`` its
``date_filed``. A filter through a relation (``docket__court``) or on a field the file
does not have cannot be evaluated on the file alone: :func:`plan_filters` says which,
and the bootstrap loads nothing for that scope unless told to load everything.

Each filter is compiled twice from one description: a SQL predicate over the staging
table (PostgreSQL) and a Python predicate over a parsed record (SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import FromClause, and_, extract, func, true
from sqlalchemy.sql.elements import ColumnElement

from courtflow.bootstrap.exports import Export, ExportColumn
from courtflow.catalogue.filters import split_filter
from courtflow.catalogue.resources import ResourceSpec
from courtflow.catalogue.scope import Scope
from courtflow.errors import ConfigError

RowPredicate = Callable[[Mapping[str, Any]], bool]
_PARTS = ("year", "month", "day", "hour", "minute", "second")

_TEXT_OPS: dict[str, tuple[bool, Callable[[str, str], bool]]] = {
    "exact": (False, lambda v, x: v == x),
    "iexact": (True, lambda v, x: v == x),
    "startswith": (False, lambda v, x: v.startswith(x)),
    "istartswith": (True, lambda v, x: v.startswith(x)),
    "endswith": (False, lambda v, x: v.endswith(x)),
    "iendswith": (True, lambda v, x: v.endswith(x)),
    "contains": (False, lambda v, x: x in v),
    "icontains": (True, lambda v, x: x in v),
}


@dataclass(frozen=True)
class RowFilter:
    """One ``name__lookup=value`` of a scope, bound to the export column it reads."""

    name: str
    column: ExportColumn
    lookup: str
    value: str


@dataclass(frozen=True)
class FilterPlan:
    usable: tuple[RowFilter, ...]
    unusable: tuple[str, ...]  # filter names the file cannot evaluate


def _column_for(export: Export, field: str) -> ExportColumn | None:
    if field.endswith("__id") and field.count("__") == 1:
        field = field[: -len("__id")]  # court__id is the file's court_id
    if "__" in field:
        return None  # through a relation: the file holds ids, not the related rows
    return export.column(field) or export.column(f"{field}_id")


def plan_filters(export: Export, spec: ResourceSpec, scope: Scope) -> FilterPlan:
    usable: list[RowFilter] = []
    unusable: list[str] = []
    for name, values in scope.grouped().items():
        field, lookup = split_filter(spec, name)
        column = _column_for(export, field.name)
        if column is None:
            unusable.append(name)
        elif len(values) > 1:
            # Several values of one filter (type=010combined&type=020lead) are any of them,
            # as the server's MultipleChoiceFilter reads them; its codes hold no comma.
            usable.append(RowFilter(name, column, "in", ",".join(values)))
        else:
            usable.append(RowFilter(name, column, lookup, values[0]))
    return FilterPlan(tuple(usable), tuple(unusable))


def _typed(column: ExportColumn, text: str) -> Any:
    if column.type == "int":
        return int(text)
    if column.type == "float":
        return float(text)
    if column.type == "bool":
        return text.lower() in ("true", "1", "yes", "t")
    if column.type == "date":
        return date.fromisoformat(text)
    if column.type == "datetime":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return text


def _values(f: RowFilter) -> list[Any]:
    if f.lookup in ("in", "range"):
        return [_typed(f.column, part) for part in f.value.split(",")]
    if f.lookup in _PARTS:
        return [int(f.value)]
    return [_typed(f.column, f.value)]


def sql_predicate(stage: FromClause, filters: Sequence[RowFilter]) -> ColumnElement[bool]:
    """The filters as one SQL condition on the staging table's columns."""
    parts: list[ColumnElement[bool]] = []
    for f in filters:
        col: Any = stage.c[f.column.name]
        values = _values(f)
        if f.lookup in _TEXT_OPS and f.column.type == "text":
            fold, _ = _TEXT_OPS[f.lookup]
            value = values[0].lower() if fold else values[0]
            target = func.lower(col) if fold else col
            if f.lookup in ("exact", "iexact"):
                parts.append(target == value)
            elif f.lookup.endswith("startswith"):
                parts.append(target.startswith(value, autoescape=True))
            elif f.lookup.endswith("endswith"):
                parts.append(target.endswith(value, autoescape=True))
            else:
                parts.append(target.contains(value, autoescape=True))
        elif f.lookup == "exact":
            parts.append(col == values[0])
        elif f.lookup == "in":
            parts.append(col.in_(values))
        elif f.lookup == "range":
            parts.append(col.between(values[0], values[1]))
        elif f.lookup in _PARTS:
            parts.append(extract(f.lookup, col) == values[0])
        else:
            op = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}[f.lookup]
            parts.append(getattr(col, op)(values[0]))
    return and_(true(), *parts)


def _row_value(f: RowFilter, record: Mapping[str, Any]) -> Any:
    raw = record.get(f.column.name)
    if raw is None:
        return None
    if f.column.type == "date":
        return date.fromisoformat(raw)
    if f.column.type == "datetime":
        return datetime.fromisoformat(raw)
    return raw


def _matches(f: RowFilter, record: Mapping[str, Any]) -> bool:
    value = _row_value(f, record)
    if value is None:
        return False  # SQL's NULL compares to nothing
    values = _values(f)
    if f.lookup in _TEXT_OPS and f.column.type == "text":
        fold, test = _TEXT_OPS[f.lookup]
        text, wanted = str(value), str(values[0])
        if fold:
            text, wanted = text.lower(), wanted.lower()
        return bool(test(text, wanted))
    if f.lookup == "exact":
        return bool(value == values[0])
    if f.lookup == "in":
        return value in values
    if f.lookup == "range":
        return bool(values[0] <= value <= values[1])
    if f.lookup in _PARTS:
        return bool(getattr(value, f.lookup) == values[0])
    low = {"gt": value > values[0], "gte": value >= values[0],
           "lt": value < values[0], "lte": value <= values[0]}  # fmt: skip
    return bool(low[f.lookup])


def row_predicate(filters: Sequence[RowFilter]) -> RowPredicate:
    """The filters as a test of one parsed record (the JSON-typed values of a row)."""
    items = tuple(filters)

    def test(record: Mapping[str, Any]) -> bool:
        return all(_matches(f, record) for f in items)

    return test


def local_condition(spec: ResourceSpec, scope: Scope, table: FromClause) -> ColumnElement[bool]:
    """The scope's filters as a condition on the resource table's own typed columns.

    Rows are stored per resource, not per scope, so which stored rows belong to a scope
    is only known from their columns: ``court=scotus`` reads ``court_id``. A filter the
    table cannot evaluate (through a relation, or a field without a typed column) is a
    ConfigError naming it: deletions are never marked on a guess.
    """
    typed = {c.name: c for c in spec.columns}
    filters: list[RowFilter] = []
    for name, value in scope.filters:
        field, lookup = split_filter(spec, name)
        wanted = field.name[: -len("__id")] if field.name.endswith("__id") else field.name
        column = None if "__" in wanted else typed.get(wanted) or typed.get(f"{wanted}_id")
        if column is None:
            raise ConfigError(
                f"filter {name!r} of scope {scope.label} cannot be evaluated on the stored "
                f"{spec.name} rows (no typed column for it), so which stored rows belong to "
                "the scope is unknown"
            )
        filters.append(RowFilter(name, ExportColumn(column.name, column.type), lookup, value))
    return sql_predicate(table, filters)
