"""Server-side filters: what each resource accepts, checked before any call is spent.

A filter is ``field__lookup=value`` as django-filter spells it on the server
(``court=scotus``, ``date_filed__gte=2020-01-01``, ``cluster__docket__court=ca9``). Each
resource lists its :class:`FilterField` s, read from the server's ``filterset_class``
(:mod:`courtflow.catalogue.filtersets`); anything else is refused here with a message naming
it and listing what is valid, because the server would answer it with 400 after the call
was paid.

This module is the filter *types* and the checks; it imports nothing else of the
catalogue. The filter sets (data) import it, and the resources import both: one way.
A check takes anything with a ``name`` and ``filters`` (:class:`Filterable`), which a
:class:`~courtflow.catalogue.resources.ResourceSpec` is.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol, overload

from courtflow.errors import ConfigError

FilterType = Literal["text", "int", "float", "date", "datetime", "bool", "choice"]

# The lookups django-filter / drf's RelatedFilter declare as ALL_TEXT, INTEGER, DATETIME...
# in the server's cl/api/utils.py; a field lists the ones its filter set allows.
TEXT_LOOKUPS: tuple[str, ...] = (
    "exact", "iexact", "startswith", "istartswith", "endswith", "iendswith",
    "contains", "icontains",
)  # fmt: skip
NUMBER_LOOKUPS: tuple[str, ...] = ("exact", "gte", "gt", "lte", "lt", "range", "in")
DATE_LOOKUPS: tuple[str, ...] = ("exact", "gte", "gt", "lte", "lt", "range", "year", "month", "day")
BASIC: tuple[str, ...] = ("exact",)
# The server's own lists (cl/api/utils.py), which the catalogue's filter sets use.
DATETIME_LOOKUPS: tuple[str, ...] = (*DATE_LOOKUPS, "hour", "minute", "second")
INTEGER_LOOKUPS: tuple[str, ...] = ("exact", "gte", "gt", "lte", "lt", "range")
BASIC_TEXT_LOOKUPS: tuple[str, ...] = ("exact", "iexact", "startswith", "istartswith")
# Lookups whose value is an integer part of a date or time, whatever the field's type.
PART_LOOKUPS: frozenset[str] = frozenset({"year", "month", "day", "hour", "minute", "second"})
# Lookups whose one value holds several items, comma-separated (django-filter's CSV filters).
CSV_LOOKUPS: frozenset[str] = frozenset({"in", "range"})

# The window of a sync sets these itself; a scope may not.
RESERVED: frozenset[str] = frozenset(
    {"date_modified", "order_by", "cursor", "page", "fields", "omit", "count", "format"}
)
# Beyond this many, an error names the valid values in runs (``0-64, 66-255``).
_LISTED = 40


@dataclass(frozen=True)
class FilterField:
    """One filterable field of a resource: its server name, type and allowed lookups.

    ``choices`` are the model's codes (inner codes of grouped choices). django-filter
    makes a ``ChoiceFilter`` of a field with choices for the ``exact`` lookup only
    (``FilterSet.filter_for_lookup``); its other lookups (``in``, ``gte``, ``startswith``)
    keep the field's own type, so only ``exact`` is checked against them. ``multiple`` is
    a ``MultipleChoiceFilter``: several values, sent as repeated parameters.
    """

    name: str
    type: FilterType
    lookups: tuple[str, ...] = BASIC
    choices: tuple[str, ...] = ()
    multiple: bool = False


class Filterable(Protocol):
    """What the checks need of a resource: its name and its filters."""

    @property
    def name(self) -> str: ...

    @property
    def filters(self) -> Sequence[FilterField]: ...


class FilterTable(Sequence[FilterField]):
    """A resource's filters with an index by name, built once: a related filter set makes
    hundreds of names, and every check would otherwise build the index again."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        self._index: dict[str, FilterField] | None = None

    @abstractmethod
    def _all(self) -> tuple[FilterField, ...]: ...

    def why_not(self, name: str) -> str | None:
        """Why a name the server would take is left out, when it is (else None)."""
        return None

    def by_name(self) -> Mapping[str, FilterField]:
        if self._index is None:
            self._index = {f.name: f for f in self._all()}
        return self._index

    @overload
    def __getitem__(self, index: int) -> FilterField: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FilterField]: ...

    def __getitem__(self, index: int | slice) -> FilterField | Sequence[FilterField]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())


def ftext(name: str, lookups: tuple[str, ...] = BASIC) -> FilterField:
    return FilterField(name, "text", lookups)


def fint(name: str, lookups: tuple[str, ...] = NUMBER_LOOKUPS) -> FilterField:
    return FilterField(name, "int", lookups)


def fdate(name: str, lookups: tuple[str, ...] = DATE_LOOKUPS) -> FilterField:
    return FilterField(name, "date", lookups)


def fdatetime(name: str, lookups: tuple[str, ...] = DATE_LOOKUPS) -> FilterField:
    return FilterField(name, "datetime", lookups)


def fbool(name: str) -> FilterField:
    return FilterField(name, "bool", BASIC)


def fchoice(
    name: str,
    choices: Iterable[str | int],
    lookups: tuple[str, ...] = BASIC,
    *,
    type: FilterType = "choice",
    multiple: bool = False,
) -> FilterField:
    """A field with choices: ``type`` is what its lookups other than ``exact`` take
    (``choice`` for text, ``int`` for an integer field such as a docket's ``source``)."""
    return FilterField(name, type, lookups, tuple(str(c) for c in choices), multiple)


def _index(spec: Filterable) -> Mapping[str, FilterField]:
    filters = spec.filters
    return filters.by_name() if isinstance(filters, FilterTable) else {f.name: f for f in filters}


def split_filter(spec: Filterable, name: str) -> tuple[FilterField, str]:
    """The field and lookup of ``name``; ConfigError naming it and the valid ones if unknown."""
    fields = _index(spec)
    if name in fields:
        return fields[name], "exact"
    field_name, sep, lookup = name.rpartition("__")
    if sep and field_name in fields:
        field = fields[field_name]
        if lookup in field.lookups:
            return field, lookup
        _refuse_left_out(spec, name)
        # A relation is also a filter itself (court=scotus): a typo below it reads as a lookup.
        under = valid_at(spec, name) if any(
            n.startswith(field_name + "__") for n in fields
        ) else []
        raise ConfigError(
            f"filter {name!r} on {spec.name}: lookup {lookup!r} is not supported for "
            f"{field_name!r}; valid lookups: {', '.join(field.lookups)}"
            + (f"; valid filters under it: {', '.join(under)}" if under else "")
        )
    head = name.split("__", 1)[0]
    if head in RESERVED:
        raise ConfigError(
            f"filter {name!r} on {spec.name}: {head!r} is set by the sync itself "
            "(use --since/--until for date_modified windows)"
        )
    _refuse_left_out(spec, name)
    valid = ", ".join(valid_at(spec, name)) or "none"
    raise ConfigError(f"unknown filter {name!r} on {spec.name}; valid filters: {valid}")


def _refuse_left_out(spec: Filterable, name: str) -> None:
    """A name the server takes but the catalogue leaves out on purpose, said as such."""
    reason = spec.filters.why_not(name) if isinstance(spec.filters, FilterTable) else None
    if reason is not None:
        raise ConfigError(f"filter {name!r} on {spec.name}: {reason}")


def valid_at(spec: Filterable, name: str) -> list[str]:
    """The valid names beside ``name``: under its longest known relation prefix.

    Related filters make hundreds of names; listing those that share the part the user
    got right (``cluster__docket__...``) says more than listing them all.
    """
    names = set(_index(spec))
    parts = name.split("__")
    for cut in range(len(parts) - 1, -1, -1):
        prefix = "__".join(parts[:cut]) + "__" if cut else ""
        heads = sorted({n[len(prefix):].split("__", 1)[0] for n in names if n.startswith(prefix)})
        if heads:
            out: list[str] = []
            for head in heads:
                if prefix + head in names:
                    out.append(prefix + head)
                if any(n.startswith(prefix + head + "__") for n in names):
                    out.append(prefix + head + "__...")
            return out
    return []


def repeatable(spec: Filterable) -> list[str]:
    """The resource's own filters that take several values (``MultipleChoiceFilter`` s)."""
    return [f.name for f in spec.filters if f.multiple and "__" not in f.name]


def check_values(spec: Filterable, name: str, value: object) -> tuple[str, ...]:
    """The values of filter ``name`` as the server expects them, checked: one, or several
    (sorted, without repeats) for a filter the server takes several values for.

    A list is several values for a ``MultipleChoiceFilter`` (sent as repeated parameters,
    ``type=010combined&type=020lead``), the items of one value for ``__in``/``__range``
    (comma-separated, as django-filter reads them), and an error anywhere else: the server
    would read only the last one.
    """
    field, lookup = split_filter(spec, name)
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if lookup in CSV_LOOKUPS or len(items) == 1:
        return (check_value(spec, name, value),)
    if not items:
        raise ConfigError(f"filter {name!r} on {spec.name}: no value given")
    if not field.multiple or lookup != "exact":
        several = ", ".join(repeatable(spec)) or "none"
        shown = ", ".join(repr(_as_text(i)) for i in items)
        raise ConfigError(
            f"filter {name!r} on {spec.name} takes one value, got {len(items)} ({shown}); "
            f"filters taking several values here: {several}"
        )
    return tuple(sorted({check_value(spec, name, item) for item in items}))


def check_value(spec: Filterable, name: str, value: object) -> str:
    """The one value of filter ``name`` as the server expects it, checked by type."""
    field, lookup = split_filter(spec, name)
    text = _as_text(value)
    if lookup == "in":
        parts = [p.strip() for p in text.split(",")]
        if not all(parts):
            raise ConfigError(f"filter {name!r} on {spec.name}: empty item in {text!r}")
        return ",".join(_check_one(spec, name, field, p, lookup) for p in parts)
    if lookup == "range":
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2:
            raise ConfigError(
                f"filter {name!r} on {spec.name}: a range is 'low,high', got {text!r}"
            )
        return ",".join(_check_one(spec, name, field, p, lookup) for p in parts)
    if lookup in PART_LOOKUPS:
        return _check_int(spec, name, text)
    if lookup == "isnull":
        return _check_one(spec, name, FilterField(field.name, "bool"), text, lookup)
    return _check_one(spec, name, field, text, lookup)


def check_filters(
    spec: Filterable, filters: Mapping[str, object]
) -> dict[str, str | tuple[str, ...]]:
    """All of ``filters`` checked; the normalised value by name (a tuple when a filter
    that takes several values was given several)."""
    out: dict[str, str | tuple[str, ...]] = {}
    for name, value in filters.items():
        values = check_values(spec, name, value)
        out[name] = values[0] if len(values) == 1 else values
    return out


def parse_filter_items(items: Iterable[str]) -> dict[str, str | tuple[str, ...]]:
    """``["court=scotus", "type=010combined", "type=020lead"]`` (CLI ``--filter``) as a
    mapping; a name given again adds a value (a tuple), which only a filter taking several
    values accepts (:func:`check_values`)."""
    parsed: dict[str, str | tuple[str, ...]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--filter {item!r}: expected NAME=VALUE, e.g. court=scotus")
        before = parsed.get(name)
        if before is None:
            parsed[name] = value.strip()
        else:
            parsed[name] = (*((before,) if isinstance(before, str) else before), value.strip())
    return parsed


def describe_choices(choices: Sequence[str]) -> str:
    """The valid values for an error: all of them, or runs of integers when there are many
    (a docket's ``source`` takes 255 codes: ``0-64, 66-255``)."""
    if len(choices) <= _LISTED or not all(c.lstrip("-").isdigit() for c in choices):
        return ", ".join(choices)
    numbers = sorted(int(c) for c in choices)
    runs: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(runs)


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    return str(value).strip()


def _check_one(
    spec: Filterable, name: str, field: FilterField, text: str, lookup: str = "exact"
) -> str:
    where = f"filter {name!r} on {spec.name}"
    if field.choices and lookup == "exact":
        # The server's ChoiceField compares the text as given (no trimming, no case folding).
        if text not in field.choices:
            raise ConfigError(
                f"{where}: {text!r} is not one of the valid values: "
                f"{describe_choices(field.choices)}"
            )
        return text
    if field.type in ("text", "choice"):
        if not text:
            raise ConfigError(f"{where}: empty value")
        return text
    if field.type == "int":
        return _check_int(spec, name, text)
    if field.type == "float":
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not a number") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: {text!r} is not a finite number")
        return text
    if field.type == "bool":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return "true"
        if lowered in ("false", "0", "no"):
            return "false"
        raise ConfigError(f"{where}: {text!r} is not a boolean (true or false)")
    if field.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not an ISO 8601 date or time") from None
    return text


def _check_int(spec: Filterable, name: str, text: str) -> str:
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"filter {name!r} on {spec.name}: {text!r} is not an integer") from None
    if abs(number) > 2**63 - 1:
        raise ConfigError(f"filter {name!r} on {spec.name}: {text!r} is out of range")
    return str(number)
