"""The endpoint catalogue as data: one :class:`ResourceSpec` per CourtListener resource.

The client reads path, pagination and ordering from a spec; the store reads the table
name and the typed columns. Adding a resource is adding an entry here, not a branch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from courtflow.errors import ConfigError
from courtflow.filters import (
    TEXT_LOOKUPS,
    FilterField,
    fbool,
    fdate,
    fint,
    ftext,
)

ColumnType = Literal["text", "int", "bool", "date", "datetime"]
Pagination = Literal["cursor", "page"]


@dataclass(frozen=True)
class ColumnSpec:
    """A typed scalar column copied out of the record (``source`` is the JSON field)."""

    name: str
    type: ColumnType
    source: str


@dataclass(frozen=True)
class ResourceSpec:
    """How to list one resource and where its rows go."""

    name: str
    path: str  # relative to the base URL, with trailing slash: "dockets/"
    table: str
    key_type: Literal["int", "text"] = "int"
    pagination: Pagination = "cursor"
    order_by: str = "date_modified"
    columns: tuple[ColumnSpec, ...] = ()
    # Heavy fields left out by default (same quota cost, much smaller payload).
    default_omit: tuple[str, ...] = ()
    incremental: bool = True  # supports date_modified__gte/__lt windows
    # Server-side filters a scope may use (the viewset's filterset_class).
    filters: tuple[FilterField, ...] = ()


def _cols(*items: tuple[str, ColumnType] | tuple[str, ColumnType, str]) -> tuple[ColumnSpec, ...]:
    return tuple(
        ColumnSpec(name=i[0], type=i[1], source=i[2] if len(i) == 3 else i[0])
        for i in items
    )


RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in (
        ResourceSpec(
            name="courts",
            path="courts/",
            table="cl_courts",
            key_type="text",
            pagination="page",
            order_by="position",
            # A small reference table: refreshed whole, not by date_modified windows.
            incremental=False,
            columns=_cols(
                ("short_name", "text"), ("full_name", "text"), ("jurisdiction", "text"),
                ("in_use", "bool"), ("citation_string", "text"), ("start_date", "date"),
                ("end_date", "date"),
            ),
        ),
        ResourceSpec(
            name="dockets",
            path="dockets/",
            table="cl_dockets",
            columns=_cols(
                ("court_id", "text"), ("docket_number", "text"), ("case_name", "text"),
                ("date_filed", "date"), ("date_terminated", "date"), ("source", "int"),
                ("pacer_case_id", "text"),
            ),
            filters=(
                ftext("court", ("exact", "in")), ftext("docket_number", TEXT_LOOKUPS),
                ftext("nature_of_suit", TEXT_LOOKUPS), fdate("date_filed"), fint("id"),
                fint("source", ("exact", "in")),
            ),
        ),
        ResourceSpec(
            name="clusters",
            path="clusters/",
            table="cl_clusters",
            columns=_cols(
                ("docket_id", "int"), ("case_name", "text"), ("date_filed", "date"),
                ("precedential_status", "text"), ("citation_count", "int"),
                ("judges", "text"),
            ),
            filters=(
                fint("id"), fint("docket"), ftext("docket__court", ("exact", "in")),
                fdate("date_filed"), ftext("precedential_status", ("exact", "in")),
                fint("citation_count"),
            ),
        ),
        ResourceSpec(
            name="opinions",
            path="opinions/",
            table="cl_opinions",
            columns=_cols(
                ("cluster_id", "int"), ("type", "text"), ("author_id", "int"),
                ("per_curiam", "bool"), ("sha1", "text"), ("download_url", "text"),
            ),
            default_omit=("html", "html_lawbox", "html_columbia", "html_anon_2020", "xml_harvard"),
            filters=(
                fint("id"), fint("cluster"), ftext("cluster__docket__court", ("exact", "in")),
                fdate("cluster__date_filed"), ftext("type", ("exact", "in")), fint("author"),
                fbool("per_curiam"),
            ),
        ),
        ResourceSpec(
            name="docket-entries",
            path="docket-entries/",
            table="cl_docket_entries",
            columns=_cols(
                ("docket_id", "int", "docket"), ("entry_number", "int"),
                ("date_filed", "date"), ("description", "text"),
            ),
        ),
        ResourceSpec(
            name="recap-documents",
            path="recap-documents/",
            table="cl_recap_documents",
            columns=_cols(
                ("document_number", "text"),  # no docket_entry: the serializer excludes it
                ("document_type", "int"), ("page_count", "int"), ("is_available", "bool"),
                ("description", "text"),
            ),
        ),
        # API.md lists no cursor orderings for people/, but the server's PersonViewSet
        # (cl/people_db/api_views.py) takes date_modified as a cursor ordering and its
        # PersonFilter the date_modified range lookups, like the dockets.
        ResourceSpec(
            name="people",
            path="people/",
            table="cl_people",
            columns=_cols(
                ("name_first", "text"), ("name_last", "text"), ("gender", "text"),
                ("date_dob", "date"), ("fjc_id", "int"), ("slug", "text"),
            ),
        ),
    )
}

DEFAULT_RESOURCES: tuple[str, ...] = ("courts", "dockets", "clusters", "opinions")


def get_resource(name: str) -> ResourceSpec:
    try:
        return RESOURCES[name]
    except KeyError:
        known = ", ".join(sorted(RESOURCES))
        raise ConfigError(f"unknown resource {name!r}; known resources: {known}") from None


def get_resources(names: Iterable[str]) -> tuple[ResourceSpec, ...]:
    return tuple(get_resource(n.strip()) for n in names if n.strip())
