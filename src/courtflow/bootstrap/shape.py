"""One row shape: an export row's JSON record shaped as the API serves the same object.

A bulk export holds the model's database columns; the API serializes the model. So a
row read from a file differs from the record fetched for the same object unless it is
reshaped, and a query on the stored JSON would answer differently depending on where a
row came from. :data:`SHAPES` says, per export, what the serializer does to its columns
(read from ``cl/*/api_serializers.py`` and checked against the server's ``OPTIONS``
answers in ``production-options-2026-08-11.json``):

- every record gets ``resource_uri``, built as the API builds it (``<base>/<endpoint>/
  <id>/`` on the API base courtflow syncs from, ``COURTLISTENER_API_BASE_URL``);
- a foreign key column ``court_id`` becomes the link ``court`` to the related endpoint;
  the plain id stays only where the serializer adds it back (``court_id`` on dockets,
  ``docket_id`` on clusters, ``cluster_id``/``author_id`` on opinions);
- a relation the API embeds whole (a position's ``person``) becomes a stub of that object,
  ``{"id", "resource_uri"}``: the file has only the id;
- columns the serializer excludes are dropped (a docket's ``view_count``);
- empty file fields are ``""`` in the file and ``null`` from the API: null;
- ``absolute_url`` where the row alone gives it (``/docket/<id>/<slug>/``);
- timestamps take the API's own form (see :func:`api_timestamp`).

What the file cannot give (reverse lists such as a docket's ``clusters``, many-to-many
lists such as ``panel``, fields the export script leaves out) is absent from the record,
listed in :attr:`Shape.lacks` and in the README; the key is missing rather than made up.

**Timestamps.** Both sources store timestamps in the API's own form: ISO 8601 in the
server's zone, America/Los_Angeles, as Django REST framework renders them
(``2024-01-05T08:30:00.120000-08:00``, ``-07:00`` in summer, microseconds only when not
zero). A stored API record is then exactly what the server sent (its content hash, a diff
against a fresh fetch, a downstream consumer written for the API all agree), and the file's
``+00:00`` values are the same instants. Typed ``date_created``/``date_modified`` columns
hold UTC for ordering and filtering; never compare the JSON strings across an offset change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from courtflow.bootstrap.exports import EXPORTS, Export

API_TZ = ZoneInfo("America/Los_Angeles")
API_TZ_NAME = "America/Los_Angeles"


@dataclass(frozen=True)
class Link:
    """A foreign key column of the file and the API field it becomes."""

    column: str  # the file's column, "court_id"
    field: str  # the API's field, "court"
    resource: str  # the endpoint it links to, "courts"
    keep_id: bool = False  # the serializer also sends the plain id (court_id)
    nested: bool = False  # the API embeds the object: the file gives a stub of it
    nested_id: bool = True  # the embedded object has an ``id`` (fjc records do not)


@dataclass(frozen=True)
class Shape:
    """What the API's serializer does to one export's columns."""

    links: tuple[Link, ...] = ()
    drop: tuple[str, ...] = ()  # columns the serializer leaves out
    files: tuple[str, ...] = ()  # file fields: "" in the file is null in the API
    absolute_url: str | None = None  # built from the row: "/docket/{id}/{slug}/"
    lacks: tuple[str, ...] = ()  # API fields the export cannot give

    def link(self, column: str) -> Link | None:
        for link in self.links:
            if link.column == column:
                return link
        return None


def _to(resource: str, *pairs: str, keep: tuple[str, ...] = ()) -> tuple[Link, ...]:
    """Links ``<field>_id -> <field>`` to one endpoint."""
    return tuple(Link(f"{f}_id", f, resource, keep_id=f in keep) for f in pairs)


def _nested(resource: str, *pairs: str) -> tuple[Link, ...]:
    return tuple(Link(f"{f}_id", f, resource, nested=True) for f in pairs)


_DISCLOSURE_CHILD = Shape(links=_to("financial-disclosures", "financial_disclosure"))

SHAPES: dict[str, Shape] = {
    "courts": Shape(
        links=_to("courts", "parent_court"), drop=("notes",), lacks=("appeals_to",),
    ),
    "dockets": Shape(
        links=(
            *_to("courts", "court", "appeal_from", keep=("court",)),
            *_to("people", "assigned_to", "referred_to"),
            *_to("dockets", "parent_docket"),
            Link("originating_court_information_id", "original_court_info",
                 "originating-court-information", nested=True),
            Link("idb_data_id", "idb_data", "fjc-integrated-database", nested=True,
                 nested_id=False),
        ),
        drop=("view_count", "filepath_local"),
        absolute_url="/docket/{id}/{slug}/",
        lacks=("clusters", "audio_files", "bankruptcy_information", "tags", "panel"),
    ),
    "originating-court-information": Shape(
        links=_to("people", "assigned_to", "ordering_judge"), lacks=("date_rehearing_denied",),
    ),
    "fjc-integrated-database": Shape(links=_to("courts", "circuit", "district")),
    "opinion-clusters": Shape(
        links=_to("dockets", "docket", keep=("docket",)),
        files=("filepath_json_harvard", "filepath_pdf_harvard"),
        absolute_url="/opinion/{id}/{slug}/",
        lacks=("panel", "non_participating_judges", "sub_opinions", "citations",
               "cluster_redirections", "filepath_xml_scan", "filepath_pdf_scan"),
    ),
    "opinions": Shape(
        links=(*_to("clusters", "cluster", keep=("cluster",)),
               *_to("people", "author", keep=("author",))),
        files=("local_path",),
        lacks=("absolute_url", "joined_by", "ordering_key", "main_version", "opinions_cited"),
    ),
    "citations": Shape(links=_to("clusters", "cluster")),
    "citation-map": Shape(links=_to("opinions", "cited_opinion", "citing_opinion")),
    "oral-arguments": Shape(
        links=_to("dockets", "docket"),
        files=("local_path_mp3", "local_path_original_file"),
        lacks=("absolute_url", "panel"),
    ),
    "people-db-people": Shape(
        links=_to("people", "is_alias_of"),
        lacks=("race", "sources", "aba_ratings", "educations", "positions",
               "political_affiliations"),
    ),
    "people-db-schools": Shape(links=_to("schools", "is_alias_of")),
    "people-db-positions": Shape(
        links=(
            *_to("positions", "appointer"),
            *_nested("people", "person", "supervisor", "predecessor"),
            *_nested("schools", "school"),
            *_nested("courts", "court"),
        ),
        lacks=("retention_events",),
    ),
    "people-db-retention-events": Shape(links=_to("positions", "position")),
    "people-db-educations": Shape(
        links=(*_to("people", "person"), *_nested("schools", "school")),
    ),
    "people-db-political-affiliations": Shape(links=_to("people", "person")),
    "financial-disclosures": Shape(
        links=_to("people", "person"),
        # filepath and thumbnail are storage URLs the server builds from a setting.
        drop=("download_filepath", "filepath", "thumbnail"),
        lacks=("agreements", "debts", "gifts", "investments", "non_investment_incomes",
               "positions", "reimbursements", "spouse_incomes", "filepath", "thumbnail"),
    ),
    "financial-disclosure-investments": _DISCLOSURE_CHILD,
    "financial-disclosures-positions": _DISCLOSURE_CHILD,
    "financial-disclosures-agreements": _DISCLOSURE_CHILD,
    "financial-disclosures-non-investment-income": _DISCLOSURE_CHILD,
    "financial-disclosures-spousal-income": _DISCLOSURE_CHILD,
    "financial-disclosures-reimbursements": _DISCLOSURE_CHILD,
    "financial-disclosures-gifts": _DISCLOSURE_CHILD,
    "financial-disclosures-debts": _DISCLOSURE_CHILD,
}  # fmt: skip


def shape_of(export: Export) -> Shape:
    return SHAPES.get(export.name, Shape())


def api_timestamp(moment: datetime) -> str:
    """A timestamp as the API renders it: Pacific time, DRF's ``isoformat``."""
    return moment.astimezone(API_TZ).isoformat()


def api_base(base_url: str) -> str:
    """The API base without its trailing slash: links are ``<base>/<endpoint>/<id>/``."""
    return base_url.rstrip("/")


def link_url(base: str, resource: str, key: Any) -> str | None:
    return None if key is None else f"{base}/{resource}/{key}/"


@dataclass(frozen=True)
class Shaper:
    """Reshapes one export's records (JSON-typed, by column name) for one API base."""

    export: Export
    resource: str
    base: str
    omit: frozenset[str]  # columns left out of every record (ResourceSpec.default_omit)
    # The serializer sends no ``id`` (fjc: identity from resource_uri): the file's id
    # only builds resource_uri and the key.
    no_id: bool = False

    @property
    def shape(self) -> Shape:
        return shape_of(self.export)

    def removed(self) -> set[str]:
        """File columns that never reach the record under their own name."""
        shape = self.shape
        gone = set(self.omit) | set(shape.drop)
        gone |= {link.column for link in shape.links if not link.keep_id}
        if self.no_id:
            gone.add("id")
        return gone

    def record(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (column -> JSON value, timestamps already in the API's form) as the
        API's record."""
        shape, base = self.shape, api_base(self.base)
        gone = self.removed()
        out: dict[str, Any] = {"resource_uri": link_url(base, self.resource, values.get("id"))}
        for name, value in values.items():
            if name not in gone:
                out[name] = value
        for name in shape.files:
            if name in out and out[name] == "":
                out[name] = None
        for link in shape.links:
            if link.column not in values or link.field in self.omit:
                continue
            key = values[link.column]
            url = link_url(base, link.resource, key)
            if link.nested and url is not None:
                stub: dict[str, Any] = {"resource_uri": url}
                if link.nested_id:
                    stub["id"] = key
                out[link.field] = stub
            else:
                out[link.field] = url
        if shape.absolute_url is not None:
            out["absolute_url"] = shape.absolute_url.format(
                **{k: "" if v is None else v for k, v in values.items()}
            )
        return out


def check_shapes() -> None:
    """Every ``*_id`` column of every export is declared (a new export must say what its
    keys become); raises AssertionError naming the first one that is not."""
    for name, export in EXPORTS.items():
        shape = shape_of(export)
        for column in export.column_names:
            if column.endswith("_id") and column not in shape.drop and \
                    shape.link(column) is None and column not in _PLAIN_ID_COLUMNS:
                raise AssertionError(f"export {name!r}: column {column!r} has no Link")


# Columns named *_id that are plain values, not foreign keys.
_PLAIN_ID_COLUMNS = frozenset({"pacer_court_id", "fjc_court_id", "scdb_id", "fjc_id",
                               "pacer_case_id", "ftm_eid"})  # fmt: skip
