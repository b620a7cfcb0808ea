"""The catalogue's filters applied to sandbox rows as the server's filter sets apply them.

A query parameter ``cluster__docket__court=ca9`` on opinions walks the filter sets of
:mod:`courtflow.catalogue.filtersets`: ``cluster`` and ``docket`` are relations (forward: the link
is a field of this row; reverse: rows of the target link here), ``court`` is the last
set's relation used as a value. A row matches when any row reached through the relations
matches the last part, as django's joins over to-many relations do. Each parameter is
its own condition (the server also nests parameters of one relation into one subquery,
which only differs when two parameters reach different rows of one to-many relation).

Values are parsed as django-filter's form fields parse them; a bad value is the server's
400 ``{"<param>": ["<message>"]}``. Date parts (``__year``, ``__hour``...) of timestamps
are taken in the server's time zone, as Django does with ``USE_TZ``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple, Protocol

from courtflow.catalogue.filters import PART_LOOKUPS, FilterField
from courtflow.catalogue.filtersets import FILTER_SET_OF, FILTER_SETS, Related
from courtflow.sandbox.timefmt import SERVER_TZ, from_us, parse_query_datetime

TRUE = frozenset({"true", "True", "1"})
FALSE = frozenset({"false", "False", "0"})
INVALID_CHOICE = "Select a valid choice. {} is not one of the available choices."
_MESSAGES = {
    "int": "Enter a whole number.",
    "float": "Enter a number.",
    "date": "Enter a valid date.",
    "datetime": "Enter a valid date/time.",
    "text": "Enter a valid value.",
}


class Model(NamedTuple):
    """One sandbox row as the filters see it: key, timestamps (microseconds), model fields."""

    id: Any
    modified: int
    created: int | None
    fields: Mapping[str, Any]


class Rows(Protocol):
    """What the filters read: rows by key and reverse links (the sandbox's Dataset)."""

    def model(self, resource: str, key: Any) -> Model | None: ...

    def reverse_keys(self, resource: str, via: str) -> Mapping[str, Sequence[Any]]: ...


class BadValue(ValueError):
    """A value the server's form field refuses; ``message`` is its error text."""


@dataclass(frozen=True)
class Condition:
    param: str
    resource: str  # the resource the walk starts from
    path: tuple[Related, ...]  # relations walked before the last part
    field: FilterField
    value_relation: Related | None  # the last part is a relation compared by key
    lookup: str
    value: Any  # parsed

    def matches(self, rows: Rows, model: Model) -> bool:
        return _match(rows, self, model, 0)


# cl.api.utils.MAX_FILTER_DEPTH: relations a parameter may walk before its last part.
MAX_FILTER_DEPTH = 4


@cache
def _own_names(set_name: str) -> Mapping[str, tuple[FilterField, Related | None]]:
    """One filter set's own names: its fields, and each relation as a value filter."""
    filter_set = FILTER_SETS[set_name]
    out: dict[str, tuple[FilterField, Related | None]] = {
        f.name: (f, None) for f in filter_set.fields
    }
    for rel in filter_set.related:
        out[rel.name] = (FilterField(rel.name, FILTER_SETS[rel.target].key), rel)
    return out


@cache
def resolve(
    resource: str, param: str
) -> tuple[tuple[Related, ...], FilterField, str, Related | None] | None:
    """The relations ``param`` walks, its last field (named locally), lookup and, when the
    last part is a relation, that relation; None when the server would refuse the name.

    As ``cl.api.utils.is_valid_filter_param`` walks it: a name of the current set (with
    a lookup) or a ``RelatedFilter`` followed by a name of its set, at most
    :data:`MAX_FILTER_DEPTH` relations deep, whatever set the walk came from (the
    catalogue is stricter: :func:`courtflow.catalogue.filtersets.inverse`).
    """
    set_name = FILTER_SET_OF.get(resource)
    if set_name is None:
        return None
    path: list[Related] = []
    rest = param
    while True:
        names = _own_names(set_name)
        if rest in names:
            field, rel = names[rest]
            return tuple(path), field, "exact", rel
        head, sep, lookup = rest.rpartition("__")
        if sep and head in names and lookup in names[head][0].lookups:
            field, rel = names[head]
            return tuple(path), field, lookup, rel
        prefix, sep, rest = rest.partition("__")
        relation = next((r for r in FILTER_SETS[set_name].related if r.name == prefix), None)
        if not sep or relation is None or len(path) == MAX_FILTER_DEPTH:
            return None
        path.append(relation)
        set_name = relation.target


def split_param(resource: str, param: str) -> tuple[FilterField, str] | None:
    """The field and lookup a parameter names, or None when the server would refuse it."""
    resolved = resolve(resource, param)
    return None if resolved is None else (resolved[1], resolved[2])


def compile_condition(resource: str, param: str, values: Sequence[str]) -> Condition:
    """The condition of one known parameter; BadValue when its value does not parse.

    ``values`` are the parameter's values in the query string: a ``MultipleChoiceFilter``
    reads them all (any matches), every other filter the last, as ``QueryDict.get`` does.
    """
    resolved = resolve(resource, param)
    if resolved is None:
        raise KeyError(param)
    path, field, lookup, last = resolved
    if field.multiple:
        # MultipleChoiceField checks every value, an empty one too ("" is no choice).
        value: Any = tuple(_one(field, lookup, v) for v in values)
        lookup = "in"
    else:
        value = parse_value(field, lookup, values[-1])
    return Condition(param, resource, path, field, last, lookup, value)


def parse_value(field: FilterField, lookup: str, text: str) -> Any:
    if lookup in ("in", "range"):
        items = [t for t in text.split(",")] if text else []
        if lookup == "range" and len(items) != 2:
            raise BadValue(_MESSAGES.get(field.type, "Enter a valid value."))
        return tuple(_one(field, lookup, t) for t in items)
    if lookup == "isnull":
        return _bool(text)
    if lookup in PART_LOOKUPS:
        try:
            return int(text)
        except ValueError:
            raise BadValue("Enter a whole number.") from None
    return _one(field, lookup, text)


def _bool(text: str) -> bool:
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise BadValue(INVALID_CHOICE.format(text))


def _one(field: FilterField, lookup: str, text: str) -> Any:
    # django-filter makes a ChoiceFilter of a field with choices for ``exact`` only
    # (FilterSet.filter_for_lookup); its other lookups parse as the field's own type.
    if field.choices and lookup == "exact":
        if text not in field.choices:
            raise BadValue(INVALID_CHOICE.format(text))
        return int(text) if field.type == "int" else text
    try:
        if field.type == "int":
            return int(text)
        if field.type == "float":
            return float(text)
        if field.type == "date":
            return date.fromisoformat(text.strip())
        if field.type == "datetime":
            return parse_query_datetime(text)
    except ValueError:
        raise BadValue(_MESSAGES[field.type]) from None
    if field.type == "bool":
        return _bool(text)
    return text


def _keys(rows: Rows, resource: str, model: Model, rel: Related) -> list[Any]:
    if rel.reverse:
        target = FILTER_SETS[rel.target].resource
        return list(rows.reverse_keys(target, rel.via).get(str(model.id), ()))
    value = model.fields.get(rel.via)
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _match(rows: Rows, cond: Condition, model: Model, depth: int) -> bool:
    set_name = FILTER_SET_OF[cond.resource] if depth == 0 else cond.path[depth - 1].target
    resource = FILTER_SETS[set_name].resource
    if depth < len(cond.path):
        rel = cond.path[depth]
        target = FILTER_SETS[rel.target].resource
        for key in _keys(rows, resource, model, rel):
            related = rows.model(target, key)
            if related is not None and _match(rows, cond, related, depth + 1):
                return True
        return False
    if cond.value_relation is not None:
        keys = {str(k) for k in _keys(rows, resource, model, cond.value_relation)}
        return str(cond.value) in keys
    name = cond.field.name.rsplit("__", 1)[-1]
    return compare(cond.field, cond.lookup, field_value(model, name, cond.field), cond.value)


def field_value(model: Model, name: str, field: FilterField) -> Any:
    if name == "id":
        return model.id
    if name == "date_modified":
        return model.modified
    if name == "date_created":
        return model.created
    value = model.fields.get(name)
    if field.type == "datetime" and isinstance(value, str):
        return parse_query_datetime(value)
    if field.type == "date" and isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _part(value: Any, lookup: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        moment: datetime | date = from_us(value).astimezone(SERVER_TZ)
    elif isinstance(value, date):
        moment = value
    else:
        return None
    return int(getattr(moment, lookup))


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


def compare(field: FilterField, lookup: str, actual: Any, wanted: Any) -> bool:
    """One lookup of django's ORM on one value (lists: any item, as a join would)."""
    if lookup == "isnull":
        return bool((actual is None or actual == []) == wanted)
    if isinstance(actual, (list, tuple)):
        return any(compare(field, lookup, item, wanted) for item in actual)
    if actual is None:
        return False
    if lookup in PART_LOOKUPS:
        return bool(_part(actual, lookup) == wanted)
    if field.type in ("text", "choice"):
        actual, wanted = str(actual), wanted if lookup in ("in",) else str(wanted)
    if lookup == "exact":
        return bool(actual == wanted)
    if lookup == "in":
        choices = wanted if field.type not in ("text", "choice") else tuple(map(str, wanted))
        return bool(actual in choices)
    if lookup == "range":
        return bool(wanted[0] <= actual <= wanted[1])
    if lookup in _ORDER:
        return bool(_ORDER[lookup](actual, wanted))
    text, value = str(actual), str(wanted)
    if lookup == "iexact":
        return text.casefold() == value.casefold()
    if lookup == "startswith":
        return text.startswith(value)
    if lookup == "istartswith":
        return text.casefold().startswith(value.casefold())
    raise ValueError(f"lookup {lookup!r} is not implemented")
