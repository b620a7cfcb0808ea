"""The endpoint catalogue as data: one :class:`ResourceSpec` per CourtListener resource.

The client reads path, pagination and ordering from a spec; the store reads the table
name and the typed columns; a scope reads the filters. Adding a resource is adding an
entry here, not a branch.

Every fact is read from the server's public source (freelawproject/courtlistener,
snapshot 2026-08): ``cl/api/urls.py`` for the routes, the viewset named beside each spec
(``cl/<app>/api_views.py``; FJC in ``cl/recap/views.py``) for ``ordering_fields``,
``cursor_ordering_fields`` (v4 cursor pagination, ``cl/api/pagination.py``),
``permission_classes`` and ``filterset_class``, whose filters are in
:mod:`courtflow.catalogue.filtersets`; the serializers (``cl/<app>/api_serializers.py``) for the
record shapes. How each resource is synced:

- **incremental**: cursor ``order_by=date_modified`` and ``date_modified__gte/__lt``
  windows (the viewset's filter set has the ``date_modified`` lookups);
- **whole refresh**: walked whole (``courts`` by page numbers, deep pages allowed; the
  others by an ``id`` cursor, which has no 100-page cap) because the filter set has no
  ``date_modified`` window (``originating-court-information``,
  ``bankruptcy-information``: no filter set at all, so the server would silently ignore
  the window and send everything each time) or the records have no timestamps
  (``opinions-cited``). Scope those with filters to keep them small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from courtflow.catalogue.filters import FilterField
from courtflow.catalogue.filtersets import resource_filters
from courtflow.errors import ConfigError

ColumnType = Literal["text", "int", "bool", "date", "datetime"]
Pagination = Literal["cursor", "page"]
# DjangoModelPermissionsOrAnonReadOnly: readable without a token (anonymous at 100/day);
# DjangoModelPermissions: any authenticated account (the token).
Permission = Literal["anonymous", "token"]
# How a record names itself: its ``id`` field (serializers deriving from
# HyperlinkedModelSerializerWithId or ModelSerializer), or the last path segment of its
# ``resource_uri`` (a plain HyperlinkedModelSerializer sends no ``id``).
Identity = Literal["id", "resource_uri"]


@dataclass(frozen=True)
class ColumnSpec:
    """A typed scalar column copied out of the record (``source`` is the JSON field;
    ``a.b`` reaches into a nested object, as positions nest their ``person``)."""

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
    filters: Sequence[FilterField] = ()
    viewset: str = ""  # the server's viewset class, where the facts above come from
    # The viewset's ordering_fields (order_by values the server accepts).
    orderings: tuple[str, ...] = ("id", "date_created", "date_modified")
    permission: Permission = "token"
    # Why a resource is not incremental, or what its permission means in practice.
    note: str = ""
    # False when records carry no date_modified (opinions-cited): rows never change,
    # they are stored with a fixed timestamp (courtflow.store.convert.NO_TIMESTAMP).
    timestamps: bool = True
    # Its part of metric names when the name is too long: OpenTelemetry caps instrument
    # names at 63 characters ("airflow.courtlistener.watermark_lag_seconds." takes 44).
    metric: str = ""
    # Where the record's key comes from (checked against the server's serializers by
    # tests/unit/catalogue/test_identity_contract.py).
    identity: Identity = "id"

    @property
    def metric_name(self) -> str:
        return self.metric or self.name

    @property
    def how_synced(self) -> str:
        return "incremental" if self.incremental else "whole refresh"


def _cols(*items: tuple[str, ColumnType] | tuple[str, ColumnType, str]) -> tuple[ColumnSpec, ...]:
    return tuple(
        ColumnSpec(name=i[0], type=i[1], source=i[2] if len(i) == 3 else i[0])
        for i in items
    )


_RECAP_NOTE = (
    "RECAP data: DjangoModelPermissions, any authenticated account (the server's "
    "DRFRecapPermissionTest); Free Law Project can restrict it per account "
    "(cl.api.utils.RECAPUsersReadOnly, has_recap_api_access): a 403 then stops the sync"
)
_DISCLOSURE_CHILD = _cols(("financial_disclosure_id", "int", "financial_disclosure"),
                          ("redacted", "bool"))  # fmt: skip


def _child(name: str, viewset: str, *columns: ColumnSpec, metric: str = "") -> ResourceSpec:
    """A financial disclosure's child table (cl/disclosures/api_views.py)."""
    return ResourceSpec(
        name=name, metric=metric, path=f"{name}/", table="cl_" + name.replace("-", "_"),
        columns=(*_DISCLOSURE_CHILD, *columns), filters=resource_filters(name),
        viewset=viewset, permission="anonymous",
    )


RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in (
        ResourceSpec(  # cl/search/api_views.py CourtViewSet
            name="courts",
            path="courts/",
            table="cl_courts",
            key_type="text",
            pagination="page",
            order_by="position",
            # PageNumberPagination (not the v4 cursor class), deep pages allowed; a
            # small reference table refreshed whole, not by date_modified windows.
            incremental=False,
            columns=_cols(
                ("short_name", "text"), ("full_name", "text"), ("jurisdiction", "text"),
                ("in_use", "bool"), ("citation_string", "text"), ("start_date", "date"),
                ("end_date", "date"),
            ),
            filters=resource_filters("courts"),
            viewset="CourtViewSet",
            orderings=("id", "date_modified", "position", "start_date", "end_date"),
            permission="anonymous",
            note="PageNumberPagination, no cursor: about 460 rows, refreshed whole",
        ),
        ResourceSpec(  # cl/search/api_views.py DocketViewSet
            name="dockets",
            path="dockets/",
            table="cl_dockets",
            columns=_cols(
                ("court_id", "text"), ("docket_number", "text"), ("case_name", "text"),
                ("date_filed", "date"), ("date_terminated", "date"), ("source", "int"),
                ("pacer_case_id", "text"),
            ),
            filters=resource_filters("dockets"),
            viewset="DocketViewSet",
            orderings=("id", "date_created", "date_modified", "date_blocked", "date_filed",
                       "date_terminated", "date_last_filing"),
        ),
        ResourceSpec(  # cl/search/api_views.py OriginatingCourtInformationViewSet
            name="originating-court-information",
            metric="origin-court-info",
            path="originating-court-information/",
            table="cl_originating_court_information",
            order_by="id",
            incremental=False,
            columns=_cols(
                ("docket_number", "text"), ("assigned_to_id", "int", "assigned_to"),
                ("court_reporter", "text"), ("date_filed", "date"), ("date_disposed", "date"),
            ),
            viewset="OriginatingCourtInformationViewSet",
            note="no filter set: the server ignores date_modified__gte/__lt (and any filter) "
            "here, so only a whole walk by id cursor is exact",
        ),
        ResourceSpec(  # cl/search/api_views.py TagViewSet
            name="tag",
            path="tag/",
            table="cl_tag",
            order_by="id",
            # No filterset_class: the server ignores date_modified__gte/__lt (and any
            # filter), so the list is walked whole by the id cursor (cursor_ordering_fields
            # id, date_created, date_modified). A few thousand short names.
            incremental=False,
            columns=_cols(("name", "text")),
            viewset="TagViewSet",
            note="DjangoModelPermissions: readable with any token; no filter set, so "
            "refreshed whole by id cursor",
        ),
        ResourceSpec(  # cl/search/api_views.py BankruptcyInformationViewSet
            name="bankruptcy-information",
            metric="bankruptcy-info",
            path="bankruptcy-information/",
            table="cl_bankruptcy_information",
            order_by="id",
            incremental=False,
            columns=_cols(
                ("docket_id", "int", "docket"), ("chapter", "text"), ("trustee_str", "text"),
            ),
            viewset="BankruptcyInformationViewSet",
            note="no filter set: the server ignores date_modified__gte/__lt (and any filter) "
            "here, so only a whole walk by id cursor is exact",
        ),
        ResourceSpec(  # cl/search/api_views.py DocketEntryViewSet
            name="docket-entries",
            path="docket-entries/",
            table="cl_docket_entries",
            columns=_cols(
                ("docket_id", "int", "docket"), ("entry_number", "int"),
                ("date_filed", "date"), ("description", "text"),
            ),
            # The nested RECAP documents carry their whole extracted text.
            default_omit=("recap_documents__plain_text",),
            filters=resource_filters("docket-entries"),
            viewset="DocketEntryViewSet",
            orderings=("id", "date_created", "date_modified", "date_filed",
                       "recap_sequence_number", "entry_number"),
            note=_RECAP_NOTE,
        ),
        ResourceSpec(  # cl/search/api_views.py RECAPDocumentViewSet
            name="recap-documents",
            path="recap-documents/",
            table="cl_recap_documents",
            # No docket_entry_id: the serializer excludes docket_entry (0008_usage drops it).
            columns=_cols(
                ("document_number", "text"),
                ("document_type", "int"), ("page_count", "int"), ("is_available", "bool"),
                ("description", "text"),
            ),
            default_omit=("plain_text",),  # the document's whole extracted text
            filters=resource_filters("recap-documents"),
            viewset="RECAPDocumentViewSet",
            orderings=("id", "date_created", "date_modified", "date_upload"),
            note=_RECAP_NOTE,
        ),
        ResourceSpec(  # cl/audio/api_views.py AudioViewSet
            name="audio",
            path="audio/",
            table="cl_audio",
            columns=_cols(
                ("docket_id", "int", "docket"), ("case_name", "text"), ("source", "text"),
                ("duration", "int"), ("sha1", "text"), ("processing_complete", "bool"),
                ("download_url", "text"),
            ),
            default_omit=("stt_transcript",),
            filters=resource_filters("audio"),
            viewset="AudioViewSet",
            orderings=("id", "date_created", "date_modified", "date_blocked"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/search/api_views.py OpinionClusterViewSet
            name="clusters",
            path="clusters/",
            table="cl_clusters",
            columns=_cols(
                ("docket_id", "int"), ("case_name", "text"), ("date_filed", "date"),
                ("precedential_status", "text"), ("citation_count", "int"),
                ("judges", "text"),
            ),
            filters=resource_filters("clusters"),
            viewset="OpinionClusterViewSet",
            orderings=("id", "date_created", "date_modified", "date_filed", "citation_count",
                       "date_blocked"),
        ),
        ResourceSpec(  # cl/search/api_views.py OpinionViewSet
            name="opinions",
            path="opinions/",
            table="cl_opinions",
            columns=_cols(
                ("cluster_id", "int"), ("type", "text"), ("author_id", "int"),
                ("per_curiam", "bool"), ("sha1", "text"), ("download_url", "text"),
            ),
            default_omit=("html", "html_lawbox", "html_columbia", "html_anon_2020", "xml_harvard"),
            filters=resource_filters("opinions"),
            viewset="OpinionViewSet",
        ),
        ResourceSpec(  # cl/search/api_views.py OpinionsCitedViewSet
            name="opinions-cited",
            path="opinions-cited/",
            table="cl_opinions_cited",
            order_by="id",
            incremental=False,
            timestamps=False,
            columns=_cols(
                ("citing_opinion_id", "int", "citing_opinion"),
                ("cited_opinion_id", "int", "cited_opinion"), ("depth", "int"),
            ),
            filters=resource_filters("opinions-cited"),
            viewset="OpinionsCitedViewSet",
            orderings=("id",),
            note="no timestamps and only the id cursor: refreshed whole, so scope it "
            "(citing_opinion__cluster__docket__court=scotus)",
        ),
        ResourceSpec(  # cl/people_db/api_views.py PersonViewSet
            name="people",
            path="people/",
            table="cl_people",
            columns=_cols(
                ("name_first", "text"), ("name_last", "text"), ("gender", "text"),
                ("date_dob", "date"), ("fjc_id", "int"), ("slug", "text"),
            ),
            filters=resource_filters("people"),
            viewset="PersonViewSet",
            orderings=("id", "date_created", "date_modified", "date_dob", "date_dod",
                       "name_last"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py PositionViewSet
            name="positions",
            path="positions/",
            table="cl_positions",
            # The serializer nests person, court, school, supervisor and predecessor.
            columns=_cols(
                ("person_id", "int", "person.id"), ("court_id", "text", "court.id"),
                ("appointer_id", "int", "appointer"), ("position_type", "text"),
                ("job_title", "text"), ("date_start", "date"), ("date_termination", "date"),
                ("how_selected", "text"),
            ),
            filters=resource_filters("positions"),
            viewset="PositionViewSet",
            orderings=("id", "date_created", "date_modified", "date_nominated", "date_elected",
                       "date_recess_appointment", "date_referred_to_judicial_committee",
                       "date_judicial_committee_action", "date_hearing", "date_confirmation",
                       "date_start", "date_retirement", "date_termination"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py RetentionEventViewSet
            name="retention-events",
            path="retention-events/",
            table="cl_retention_events",
            columns=_cols(
                ("position_id", "int", "position"), ("retention_type", "text"),
                ("date_retention", "date"), ("won", "bool"), ("unopposed", "bool"),
            ),
            filters=resource_filters("retention-events"),
            viewset="RetentionEventViewSet",
            orderings=("id", "date_created", "date_modified", "date_retention"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py EducationViewSet
            name="educations",
            path="educations/",
            table="cl_educations",
            columns=_cols(
                ("person_id", "int", "person"), ("school_id", "int", "school.id"),
                ("degree_level", "text"), ("degree_detail", "text"), ("degree_year", "int"),
            ),
            filters=resource_filters("educations"),
            viewset="EducationViewSet",
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py SchoolViewSet
            name="schools",
            path="schools/",
            table="cl_schools",
            columns=_cols(("name", "text"), ("ein", "int"),
                          ("is_alias_of_id", "int", "is_alias_of")),
            filters=resource_filters("schools"),
            viewset="SchoolViewSet",
            orderings=("id", "date_created", "date_modified", "name"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py PoliticalAffiliationViewSet
            name="political-affiliations",
            metric="political-affil",
            path="political-affiliations/",
            table="cl_political_affiliations",
            columns=_cols(
                ("person_id", "int", "person"), ("political_party", "text"), ("source", "text"),
                ("date_start", "date"), ("date_end", "date"),
            ),
            filters=resource_filters("political-affiliations"),
            viewset="PoliticalAffiliationViewSet",
            orderings=("id", "date_created", "date_modified", "date_start", "date_end"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py SourceViewSet
            name="sources",
            path="sources/",
            table="cl_sources",
            columns=_cols(("person_id", "int", "person"), ("url", "text"),
                          ("date_accessed", "date")),
            filters=resource_filters("sources"),
            viewset="SourceViewSet",
            orderings=("id", "date_modified", "date_accessed"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py ABARatingViewSet
            name="aba-ratings",
            path="aba-ratings/",
            table="cl_aba_ratings",
            columns=_cols(("person_id", "int", "person"), ("year_rated", "int"),
                          ("rating", "text")),
            filters=resource_filters("aba-ratings"),
            viewset="ABARatingViewSet",
            orderings=("id", "date_created", "date_modified", "year_rated"),
            permission="anonymous",
        ),
        ResourceSpec(  # cl/people_db/api_views.py PartyViewSet
            name="parties",
            path="parties/",
            table="cl_parties",
            columns=_cols(("name", "text"), ("extra_info", "text")),
            filters=resource_filters("parties"),
            viewset="PartyViewSet",
            note=_RECAP_NOTE,
        ),
        ResourceSpec(  # cl/people_db/api_views.py AttorneyViewSet
            name="attorneys",
            path="attorneys/",
            table="cl_attorneys",
            columns=_cols(("name", "text"), ("email", "text"), ("phone", "text")),
            filters=resource_filters("attorneys"),
            viewset="AttorneyViewSet",
            note=_RECAP_NOTE,
        ),
        ResourceSpec(  # cl/recap/views.py FjcIntegratedDatabaseViewSet
            name="fjc-integrated-database",
            metric="fjc-idb",
            path="fjc-integrated-database/",
            table="cl_fjc_integrated_database",
            columns=_cols(
                ("dataset_source", "int"), ("circuit_id", "text", "circuit"),
                ("district_id", "text", "district"), ("docket_number", "text"),
                ("origin", "int"), ("date_filed", "date"), ("jurisdiction", "int"),
                ("nature_of_suit", "int"), ("plaintiff", "text"), ("defendant", "text"),
                ("date_terminated", "date"),
            ),
            filters=resource_filters("fjc-integrated-database"),
            viewset="FjcIntegratedDatabaseViewSet",
            orderings=("id", "date_created", "date_modified", "date_filed"),
            # FjcIntegratedDatabaseSerializer is a plain HyperlinkedModelSerializer
            # (cl/recap/api_serializers.py): no "id", only "resource_uri".
            identity="resource_uri",
        ),
        ResourceSpec(  # cl/disclosures/api_views.py FinancialDisclosureViewSet
            name="financial-disclosures",
            metric="disclosures",
            path="financial-disclosures/",
            table="cl_financial_disclosures",
            columns=_cols(
                ("person_id", "int", "person"), ("year", "int"), ("report_type", "int"),
                ("is_amended", "bool"), ("page_count", "int"), ("sha1", "text"),
                ("has_been_extracted", "bool"),
            ),
            # The serializer nests every child record; they are resources of their own.
            default_omit=("agreements", "debts", "gifts", "investments",
                          "non_investment_incomes", "positions", "reimbursements",
                          "spouse_incomes"),
            filters=resource_filters("financial-disclosures"),
            viewset="FinancialDisclosureViewSet",
            permission="anonymous",
        ),
        _child("agreements", "AgreementViewSet", *_cols(("parties_and_terms", "text"),
                                                        ("date_raw", "text"))),
        _child("debts", "DebtViewSet", *_cols(("creditor_name", "text"), ("description", "text"),
                                              ("value_code", "text"))),
        _child("gifts", "GiftViewSet", *_cols(("source", "text"), ("description", "text"),
                                              ("value", "text"))),
        _child("investments", "InvestmentViewSet", *_cols(
            ("description", "text"), ("gross_value_code", "text"),
            ("income_during_reporting_period_code", "text"),
            ("transaction_value_code", "text"), ("transaction_date", "date"))),
        _child("non-investment-incomes", "NonInvestmentIncomeViewSet", *_cols(
            ("source_type", "text"), ("income_amount", "text"), ("date_raw", "text")),
        metric="non-inv-incomes"),
        # cl.disclosures.api_views.PositionViewSet (not the people_db one).
        _child("disclosure-positions", "PositionViewSet", *_cols(
            ("position", "text"), ("organization_name", "text")), metric="disclosure-pos"),
        _child("reimbursements", "ReimbursementViewSet", *_cols(
            ("source", "text"), ("location", "text"), ("purpose", "text"),
            ("date_raw", "text"))),
        _child("spouse-incomes", "SpouseIncomeViewSet", *_cols(
            ("source_type", "text"), ("date_raw", "text"))),
    )
}  # fmt: skip

DEFAULT_RESOURCES: tuple[str, ...] = ("courts", "dockets", "clusters", "opinions")


def metric_name(resource: str) -> str:
    """A resource's part of metric names (its name unless that is too long)."""
    spec = RESOURCES.get(resource)
    return resource if spec is None else spec.metric_name


def get_resource(name: str) -> ResourceSpec:
    try:
        return RESOURCES[name]
    except KeyError:
        known = ", ".join(sorted(RESOURCES))
        raise ConfigError(f"unknown resource {name!r}; known resources: {known}") from None


def get_resources(names: Iterable[str]) -> tuple[ResourceSpec, ...]:
    return tuple(get_resource(n.strip()) for n in names if n.strip())
