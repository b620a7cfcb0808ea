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

from courtflow.catalogue.filters import check_filters
from courtflow.catalogue.resources import ResourceSpec

WHOLE = ""  # the key of a resource's unfiltered scope


@dataclass(frozen=True)
class Scope:
    """A resource and its checked filters in canonical (sorted) order."""

    resource: str
    filters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, spec: ResourceSpec, filters: Mapping[str, object] | None = None) -> Scope:
        """Checks every filter against the resource's filter set (no call is spent)."""
        checked = check_filters(spec, filters or {})
        return cls(spec.name, tuple(sorted(checked.items())))

    @property
    def key(self) -> str:
        """Canonical form of the filters: what checkpoints and watermarks are keyed by."""
        return urlencode(self.filters) if self.filters else WHOLE

    @property
    def label(self) -> str:
        """For people: ``dockets`` or ``dockets?court=scotus``."""
        return f"{self.resource}?{self.key}" if self.filters else self.resource

    def params(self) -> dict[str, str]:
        return dict(self.filters)

    def __str__(self) -> str:
        return self.label
