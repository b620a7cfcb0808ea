"""A scope: one resource plus the server-side filters that slice it.

Checkpoints and watermarks belong to a scope, so two scopes of one resource never resume
or skip each other's windows; rows of every scope land in the resource's one table.
The whole resource is the scope with no filters, whose key is ``""``.

>>> Scope.of(get_resource("dockets"), {"court": "scotus"}).key        # doctest: +SKIP
'court=scotus'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from courtflow.catalogue.filters import Filterable, check_filters

WHOLE = ""  # the key of a resource's unfiltered scope


@dataclass(frozen=True)
class Scope:
    """A resource and its checked filters in canonical (sorted) order.

    A filter the server takes several values for (``type=010combined&type=020lead``) is one
    pair per value; sorting the pairs sorts its values, so the key is the same whatever
    order they were given in.
    """

    resource: str
    filters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, spec: Filterable, filters: Mapping[str, object] | None = None) -> Scope:
        """Checks every filter against the resource's filter set (no call is spent)."""
        pairs: list[tuple[str, str]] = []
        for name, value in check_filters(spec, filters or {}).items():
            values = (value,) if isinstance(value, str) else value
            pairs.extend((name, v) for v in values)
        return cls(spec.name, tuple(sorted(pairs)))

    @property
    def key(self) -> str:
        """Canonical form of the filters: what checkpoints and watermarks are keyed by."""
        return urlencode(self.filters) if self.filters else WHOLE

    @property
    def label(self) -> str:
        """For people: ``dockets`` or ``dockets?court=scotus``."""
        return f"{self.resource}?{self.key}" if self.filters else self.resource

    def params(self) -> dict[str, str | list[str]]:
        """Query parameters: a filter given several values is a list (repeated parameters)."""
        return {name: (values[0] if len(values) == 1 else values)
                for name, values in self.grouped().items()}  # fmt: skip

    def grouped(self) -> dict[str, list[str]]:
        """The values of each filter, in key order."""
        out: dict[str, list[str]] = {}
        for name, value in self.filters:
            out.setdefault(name, []).append(value)
        return out

    def mapping(self) -> dict[str, str | tuple[str, ...]]:
        """The filters as :meth:`of` takes them back (for operators and DAG configs)."""
        return {name: (values[0] if len(values) == 1 else tuple(values))
                for name, values in self.grouped().items()}  # fmt: skip

    def __str__(self) -> str:
        return self.label
