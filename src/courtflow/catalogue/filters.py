"""Server-side filters: what each resource accepts, checked before any call is spent.

A filter is ``field__lookup=value`` as django-filter spells it on the server
(``court=scotus``, ``date_filed__gte=2020-01-01``, ``cluster__docket__court=ca9``). Each
:class:`~courtflow.catalogue.resources.ResourceSpec` lists its :class:`FilterField` s, read from the
server's ``filterset_class``; anything else is refused here with a message naming it and
listing what is valid, because the server would answer it with 400 after the call was paid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from courtflow.errors import ConfigError

if TYPE_CHECKING:
    from courtflow.catalogue.resources import ResourceSpec

FilterType = Literal["text", "int", "float", "date", "datetime", "bool", "choice"]

# The lookups django-filter / drf's RelatedFilter declare as ALL_TEXT, INTEGER, DATETIME...
# in the server's cl/api/utils.py; a field lists the ones its filter set allows.
TEXT_LOOKUPS: tuple[str, ...] = (
    "exact", "iexact", "startswith", "istartswith", "endswith", "iendswith",
    "contains", "icontains",
)
NUMBER_LOOKUPS: tuple[str, ...] = ("exact", "gte", "gt", "lte", "lt", "range", "in")
DATE_LOOKUPS: tuple[str, ...] = ("exact", "gte", "gt", "lte", "lt", "range", "year", "month", "day")
BASIC: tuple[str, ...] = ("exact",)
# The server's own lists (cl/api/utils.py), which the catalogue's filter sets use.
DATETIME_LOOKUPS: tuple[str, ...] = (*DATE_LOOKUPS, "hour", "minute", "second")
INTEGER_LOOKUPS: tuple[str, ...] = ("exact", "gte", "gt", "lte", "lt", "range")
BASIC_TEXT_LOOKUPS: tuple[str, ...] = ("exact", "iexact", "startswith", "istartswith")
# Lookups whose value is an integer part of a date or time, whatever the field's type.
PART_LOOKUPS: frozenset[str] = frozenset({"year", "month", "day", "hour", "minute", "second"})

# The window of a sync sets these itself; a scope may not.
RESERVED: frozenset[str] = frozenset(
    {"date_modified", "order_by", "cursor", "page", "fields", "omit", "count", "format"}
)


@dataclass(frozen=True)
class FilterField:
    """One filterable field of a resource: its server name, type and allowed lookups."""

    name: str
    type: FilterType
    lookups: tuple[str, ...] = BASIC
    choices: tuple[str, ...] = ()


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
    name: str, choices: Iterable[str | int], lookups: tuple[str, ...] = BASIC
) -> FilterField:
    return FilterField(name, "choice", lookups, tuple(str(c) for c in choices))


def split_filter(spec: ResourceSpec, name: str) -> tuple[FilterField, str]:
    """The field and lookup of ``name``; ConfigError naming it and the valid ones if unknown."""
    fields = {f.name: f for f in spec.filters}
    if name in fields:
        return fields[name], "exact"
    field_name, sep, lookup = name.rpartition("__")
    if sep and field_name in fields:
        field = fields[field_name]
        if lookup in field.lookups:
            return field, lookup
        # A relation is also a filter itself (court=scotus): a typo below it reads as a lookup.
        under = valid_at(spec, name) if any(
            f.name.startswith(field_name + "__") for f in spec.filters
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
    valid = ", ".join(valid_at(spec, name)) or "none"
    raise ConfigError(f"unknown filter {name!r} on {spec.name}; valid filters: {valid}")


def valid_at(spec: ResourceSpec, name: str) -> list[str]:
    """The valid names beside ``name``: under its longest known relation prefix.

    Related filters make hundreds of names; listing those that share the part the user
    got right (``cluster__docket__...``) says more than listing them all.
    """
    names = {f.name for f in spec.filters}
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


def check_value(spec: ResourceSpec, name: str, value: object) -> str:
    """The value of filter ``name`` as the server expects it, checked by type."""
    field, lookup = split_filter(spec, name)
    text = _as_text(value)
    if lookup == "in":
        parts = [p.strip() for p in text.split(",")]
        if not all(parts):
            raise ConfigError(f"filter {name!r} on {spec.name}: empty item in {text!r}")
        return ",".join(_check_one(spec, name, field, p) for p in parts)
    if lookup == "range":
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2:
            raise ConfigError(
                f"filter {name!r} on {spec.name}: a range is 'low,high', got {text!r}"
            )
        return ",".join(_check_one(spec, name, field, p) for p in parts)
    if lookup in PART_LOOKUPS:
        return _check_int(spec, name, text)
    if lookup == "isnull":
        return _check_one(spec, name, FilterField(field.name, "bool"), text)
    return _check_one(spec, name, field, text)


def check_filters(spec: ResourceSpec, filters: Mapping[str, object]) -> dict[str, str]:
    """All of ``filters`` checked; the normalised values by name."""
    return {name: check_value(spec, name, value) for name, value in filters.items()}


def parse_filter_items(items: Iterable[str]) -> dict[str, str]:
    """``["court=scotus", "date_filed__gte=2020-01-01"]`` (CLI ``--filter``) as a mapping."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--filter {item!r}: expected NAME=VALUE, e.g. court=scotus")
        if name in parsed:
            raise ConfigError(f"--filter {name!r} given twice")
        parsed[name] = value.strip()
    return parsed


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    return str(value).strip()


def _check_one(spec: ResourceSpec, name: str, field: FilterField, text: str) -> str:
    where = f"filter {name!r} on {spec.name}"
    if field.type == "text":
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
    if field.type == "datetime":
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not an ISO 8601 date or time") from None
        return text
    if text not in field.choices:
        raise ConfigError(f"{where}: {text!r} is not one of {', '.join(field.choices)}")
    return text


def _check_int(spec: ResourceSpec, name: str, text: str) -> str:
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(f"filter {name!r} on {spec.name}: {text!r} is not an integer") from None
    if abs(number) > 2**63 - 1:
        raise ConfigError(f"filter {name!r} on {spec.name}: {text!r} is out of range")
    return str(number)
