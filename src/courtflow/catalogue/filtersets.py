"""The server's filter sets as data, and the filter names they allow per resource.

Read from Free Law Project's server source (freelawproject/courtlistener, snapshot
2026-08): ``cl/search/filters.py``, ``cl/people_db/filters.py``, ``cl/audio/filters.py``,
``cl/disclosures/filters.py``, ``cl/recap/filters.py``. Each :class:`FilterSetDef` is one
``NoEmptyFilterSet``: its ``Meta.fields`` with their lookup lists (``cl/api/utils.py``:
``INTEGER_LOOKUPS``, ``DATETIME_LOOKUPS``...), its declared filters (``MultipleChoiceFilter``
with the model's choices) and its ``RelatedFilter`` s. The server validates a parameter by
walking ``RelatedFilter`` s (``cl.api.utils.is_valid_filter_param``, four levels deep);
:func:`expand` walks them three levels: ``cluster__docket__court`` on opinions,
``docket__court__jurisdiction`` on clusters, ``financial_disclosure__person__name_last``,
``citing_opinion__cluster__docket__court`` on opinions-cited.

Left out on purpose: ``tags`` (Tag is not in the catalogue), a cluster's ``citations``
(Citation is not a list endpoint), the negation suffix ``!``, and relations that lead
straight back to the set they came from (``dockets?clusters__docket__...``).
The sandbox (``courtflow.sandbox.query``) applies exactly these names, so a relation also
says how it is stored there: ``via`` is the model field holding the link, on this side
(forward) or on the target's side (``reverse``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import overload

from courtflow.catalogue.filters import (
    BASIC,
    BASIC_TEXT_LOOKUPS,
    DATE_LOOKUPS,
    DATETIME_LOOKUPS,
    INTEGER_LOOKUPS,
    FilterField,
    FilterType,
    fbool,
    fchoice,
    fdate,
    fdatetime,
    fint,
    ftext,
)

EXPAND_DEPTH = 3  # relation hops walked from a resource's own filter set (the server: 4)


@dataclass(frozen=True)
class Related:
    """A ``RelatedFilter``: ``name`` leads to the filter set ``target``."""

    name: str
    target: str
    via: str  # model field holding the link (a key or a list of keys)
    reverse: bool = False  # ``via`` is on the target's records, pointing here


@dataclass(frozen=True)
class FilterSetDef:
    name: str  # the server's class name
    resource: str  # the catalogue resource whose rows it filters
    key: FilterType  # type of the resource's key: what a bare relation filter compares
    fields: tuple[FilterField, ...]
    related: tuple[Related, ...] = ()


def _dt(*names: str) -> tuple[FilterField, ...]:
    return tuple(fdatetime(n, DATETIME_LOOKUPS) for n in names)


def _d(*names: str) -> tuple[FilterField, ...]:
    return tuple(fdate(n, DATE_LOOKUPS) for n in names)


def _txt(*names: str) -> tuple[FilterField, ...]:
    return tuple(ftext(n, BASIC_TEXT_LOOKUPS) for n in names)


def _ints(*names: str) -> tuple[FilterField, ...]:
    return tuple(fint(n, INTEGER_LOOKUPS) for n in names)


def _exact_int(*names: str) -> tuple[FilterField, ...]:
    return tuple(fint(n, BASIC) for n in names)


def _exact_text(*names: str) -> tuple[FilterField, ...]:
    return tuple(ftext(n, BASIC) for n in names)


def _bools(*names: str) -> tuple[FilterField, ...]:
    return tuple(fbool(n) for n in names)


_STAMPS = _dt("date_created", "date_modified")
_IN = ("exact", "in")

# Model choices the server's MultipleChoiceFilters and choice fields check.
JURISDICTIONS = (
    "F", "FD", "FB", "FBP", "FS", "S", "SA", "ST", "SS", "TRS", "TRA", "TRT", "TRX", "TS",
    "TA", "TT", "TSP", "SAG", "MA", "MT", "C", "I", "T",
)  # fmt: skip
OPINION_TYPES = (
    "010combined", "015unamimous", "020lead", "025plurality", "030concurrence",
    "035concurrenceinpart", "040dissent", "050addendum", "060remittitur", "070rehearing",
    "080onthemerits", "090onmotiontostrike", "100trialcourt",
)  # fmt: skip
CLUSTER_SOURCES = (
    "C", "R", "CR", "L", "LC", "LR", "M", "A", "Z", "ZC", "ZL", "ZLC", "CU", "D", "LU",
    "MU", "RU", "ZU", "G", "S",
)  # fmt: skip
PRECEDENTIAL_STATUSES = (
    "Published", "Unpublished", "Errata", "Separate", "In-chambers", "Relating-to", "Unknown",
)  # fmt: skip
AUDIO_SOURCES = ("C", "H")
RACES = ("w", "b", "i", "a", "p", "mena", "h", "o")

_DISCLOSURE_BASE = (*_ints("id"), *_STAMPS, fbool("redacted"))
_TO_DISCLOSURE = (Related("financial_disclosure", "FinancialDisclosureFilter",
                          "financial_disclosure"),)  # fmt: skip


def _disclosure_child(name: str, resource: str, *fields: FilterField) -> FilterSetDef:
    return FilterSetDef(name, resource, "int", (*_DISCLOSURE_BASE, *fields), _TO_DISCLOSURE)


FILTER_SETS: dict[str, FilterSetDef] = {
    s.name: s
    for s in (
        FilterSetDef(
            "CourtFilter", "courts", "text",
            (
                ftext("id", BASIC), *_dt("date_modified"),
                *_bools("in_use", "has_opinion_scraper", "has_oral_argument_scraper"),
                FilterField("position", "float", INTEGER_LOOKUPS), *_d("start_date", "end_date"),
                *_txt("short_name", "full_name", "citation_string"),
                fchoice("jurisdiction", JURISDICTIONS), ftext("parent_court", BASIC),
            ),
            (Related("dockets", "DocketFilter", "court", reverse=True),),
        ),
        FilterSetDef(
            "DocketFilter", "dockets", "int",
            (
                *_ints("id"), *_STAMPS, *_d("date_filed", "date_terminated", "date_last_filing"),
                ftext("docket_number", BASIC), ftext("docket_number_core", ("exact", "startswith")),
                *_txt("nature_of_suit"), ftext("pacer_case_id", BASIC), fint("source", _IN),
                *_d("date_blocked"), fbool("blocked"),
            ),
            (
                Related("court", "CourtFilter", "court"),
                Related("clusters", "OpinionClusterFilter", "docket", reverse=True),
                Related("docket_entries", "DocketEntryFilter", "docket", reverse=True),
                Related("audio_files", "AudioFilter", "docket", reverse=True),
                Related("assigned_to", "PersonFilter", "assigned_to"),
                Related("referred_to", "PersonFilter", "referred_to"),
                Related("parties", "PartyFilter", "dockets", reverse=True),
            ),
        ),
        FilterSetDef(
            "OpinionFilter", "opinions", "int",
            (
                *_ints("id"), *_STAMPS, ftext("sha1", BASIC),
                *_bools("extracted_by_ocr", "per_curiam"), fchoice("type", OPINION_TYPES),
            ),
            (
                Related("cluster", "OpinionClusterFilter", "cluster"),
                Related("author", "PersonFilter", "author"),
                Related("joined_by", "PersonFilter", "joined_by"),
            ),
        ),
        FilterSetDef(
            "OpinionClusterFilter", "clusters", "int",
            (
                *_ints("id"), *_STAMPS, *_d("date_filed"), ftext("scdb_id", BASIC),
                fchoice("scdb_decision_direction", (1, 2, 3)),
                *_ints("scdb_votes_majority", "scdb_votes_minority", "citation_count"),
                fchoice("precedential_status", PRECEDENTIAL_STATUSES), *_d("date_blocked"),
                fbool("blocked"), fchoice("source", CLUSTER_SOURCES),
            ),
            (
                Related("docket", "DocketFilter", "docket"),
                Related("panel", "PersonFilter", "panel"),
                Related("non_participating_judges", "PersonFilter", "non_participating_judges"),
                Related("sub_opinions", "OpinionFilter", "cluster", reverse=True),
            ),
        ),
        FilterSetDef(
            "OpinionsCitedFilter", "opinions-cited", "int",
            (*_ints("id"),),
            (
                Related("citing_opinion", "OpinionFilter", "citing_opinion"),
                Related("cited_opinion", "OpinionFilter", "cited_opinion"),
            ),
        ),
        FilterSetDef(
            "DocketEntryFilter", "docket-entries", "int",
            (
                *_ints("id"), fint("entry_number", (*INTEGER_LOOKUPS, "isnull")), *_STAMPS,
                *_d("date_filed"), fint("pacer_sequence_number", (*INTEGER_LOOKUPS, "isnull")),
            ),
            (
                Related("docket", "DocketFilter", "docket"),
                Related("recap_documents", "RECAPDocumentFilter", "docket_entry", reverse=True),
            ),
        ),
        FilterSetDef(
            "RECAPDocumentFilter", "recap-documents", "int",
            (
                *_ints("id"), *_STAMPS, *_dt("date_upload"), fchoice("document_type", (1, 2)),
                ftext("document_number", ("exact", "gte", "gt", "lte", "lt")),
                ftext("pacer_doc_id", _IN), fbool("is_available"), ftext("sha1", BASIC),
                *_ints("ocr_status"), fbool("is_free_on_pacer"),
            ),
            (Related("docket_entry", "DocketEntryFilter", "docket_entry"),),
        ),
        FilterSetDef(
            "AudioFilter", "audio", "int",
            (
                *_ints("id"), *_STAMPS, ftext("sha1", BASIC), fbool("blocked"),
                *_d("date_blocked"), fbool("processing_complete"), *_ints("stt_status"),
                fchoice("source", AUDIO_SOURCES),
            ),
            (Related("docket", "DocketFilter", "docket"),),
        ),
        FilterSetDef(
            "PersonFilter", "people", "int",
            (
                *_ints("id"), *_STAMPS, *_d("date_dob", "date_dod"),
                *_txt("name_first", "name_middle", "name_last", "name_suffix"),
                *_exact_int("is_alias_of", "fjc_id"), ftext("ftm_eid", BASIC),
                *_txt("dob_city", "dob_state", "dod_city", "dod_state"),
                fchoice("gender", ("m", "f", "o")), fchoice("race", RACES),
            ),
            (
                Related("educations", "EducationFilter", "person", reverse=True),
                Related("political_affiliations", "PoliticalAffiliationFilter", "person",
                        reverse=True),
                Related("sources", "SourceFilter", "person", reverse=True),
                Related("aba_ratings", "ABARatingFilter", "person", reverse=True),
                Related("positions", "PositionFilter", "person", reverse=True),
                Related("opinion_clusters_participating_judges", "OpinionClusterFilter",
                        "panel", reverse=True),
                Related("opinion_clusters_non_participating_judges", "OpinionClusterFilter",
                        "non_participating_judges", reverse=True),
                Related("opinions_written", "OpinionFilter", "author", reverse=True),
                Related("opinions_joined", "OpinionFilter", "joined_by", reverse=True),
            ),
        ),
        FilterSetDef(
            "PositionFilter", "positions", "int",
            (
                *_ints("id"), ftext("position_type", BASIC),
                *_exact_int("person", "appointer", "predecessor"), *_txt("job_title"), *_STAMPS,
                *_d(
                    "date_nominated", "date_elected", "date_recess_appointment",
                    "date_referred_to_judicial_committee", "date_judicial_committee_action",
                    "date_hearing", "date_confirmation", "date_start", "date_retirement",
                    "date_termination",
                ),
                *_exact_text("judicial_committee_action", "nomination_process"),
                fbool("voice_vote"), *_ints("votes_yes", "votes_no"),
                *_exact_text("how_selected", "termination_reason"),
                *_txt("location_city", "location_state"),
            ),
            (
                Related("court", "CourtFilter", "court"),
                Related("retention_events", "RetentionEventFilter", "position", reverse=True),
            ),
        ),
        FilterSetDef(
            "RetentionEventFilter", "retention-events", "int",
            (
                *_ints("id"), *_exact_int("position"), *_STAMPS, *_d("date_retention"),
                ftext("retention_type", BASIC), *_ints("votes_yes", "votes_no"),
                *_bools("unopposed", "won"),
            ),
        ),
        FilterSetDef(
            "EducationFilter", "educations", "int",
            (
                *_ints("id"), *_STAMPS, *_exact_int("degree_year"), *_txt("degree_detail"),
                ftext("degree_level", BASIC),
            ),
            (
                Related("school", "SchoolFilter", "school"),
                Related("person", "PersonFilter", "person"),
            ),
        ),
        FilterSetDef(
            "SchoolFilter", "schools", "int",
            (*_ints("id"), *_STAMPS, *_txt("name"), *_exact_int("ein")),
            (Related("educations", "EducationFilter", "school", reverse=True),),
        ),
        FilterSetDef(
            "PoliticalAffiliationFilter", "political-affiliations", "int",
            (
                *_ints("id"), *_STAMPS, *_d("date_start", "date_end"),
                *_exact_text("political_party", "source"), *_exact_int("person"),
            ),
        ),
        FilterSetDef(
            "SourceFilter", "sources", "int",
            (*_exact_int("id"), *_dt("date_modified"), *_exact_int("person")),
        ),
        FilterSetDef(
            "ABARatingFilter", "aba-ratings", "int",
            (
                *_ints("id"), *_STAMPS, *_ints("year_rated"), ftext("rating", BASIC),
                *_exact_int("person"),
            ),
        ),
        FilterSetDef(
            "PartyFilter", "parties", "int",
            (*_ints("id"), *_STAMPS, *_txt("name"), fbool("filter_nested_results")),
            (
                Related("docket", "DocketFilter", "dockets"),
                Related("attorney", "AttorneyFilter", "parties", reverse=True),
            ),
        ),
        FilterSetDef(
            "AttorneyFilter", "attorneys", "int",
            (*_ints("id"), *_STAMPS, *_txt("name"), fbool("filter_nested_results")),
            (
                Related("docket", "DocketFilter", "dockets"),
                Related("parties_represented", "PartyFilter", "parties"),
            ),
        ),
        FilterSetDef(
            "FjcIntegratedDatabaseFilter", "fjc-integrated-database", "int",
            (
                fint("dataset_source", _IN), *_STAMPS, *_exact_text("circuit", "district"),
                fint("origin", _IN), *_d("date_filed"), fint("jurisdiction", _IN),
                *_txt("title", "section", "subsection"),
                ftext("arbitration_at_filing", _IN), ftext("arbitration_at_termination", _IN),
                fbool("class_action"), *_txt("plaintiff", "defendant"),
                *(fint(n, _IN) for n in (
                    "termination_class_action_status", "procedural_progress", "disposition",
                    "judgment", "pro_se",
                )),
            ),
        ),
        FilterSetDef(
            "FinancialDisclosureFilter", "financial-disclosures", "int",
            (*_ints("id"), *_STAMPS, *_txt("addendum_content_raw"), fbool("has_been_extracted")),
            (
                Related("agreements", "AgreementFilter", "financial_disclosure", reverse=True),
                Related("debts", "DebtFilter", "financial_disclosure", reverse=True),
                Related("gifts", "GiftFilter", "financial_disclosure", reverse=True),
                Related("investments", "InvestmentFilter", "financial_disclosure", reverse=True),
                Related("non_investment_incomes", "NonInvestmentIncomeFilter",
                        "financial_disclosure", reverse=True),
                Related("person", "PersonFilter", "person"),
                Related("positions", "DisclosurePositionFilter", "financial_disclosure",
                        reverse=True),
                Related("reimbursements", "ReimbursementFilter", "financial_disclosure",
                        reverse=True),
                Related("spouse_incomes", "SpouseIncomeFilter", "financial_disclosure",
                        reverse=True),
            ),
        ),
        _disclosure_child("AgreementFilter", "agreements",
                          *_txt("parties_and_terms", "date_raw")),
        _disclosure_child("DebtFilter", "debts", *_txt("creditor_name", "description"),
                          ftext("value_code", BASIC)),
        FilterSetDef(
            "GiftFilter", "gifts", "int",
            (*_ints("id"), *_STAMPS, *_txt("source", "description", "value"), fbool("redacted")),
            _TO_DISCLOSURE,
        ),
        _disclosure_child(
            "InvestmentFilter", "investments", *_txt("description"),
            *_exact_text("gross_value_code", "income_during_reporting_period_code"),
            *_txt("transaction_during_reporting_period"), ftext("transaction_value_code", BASIC),
        ),
        _disclosure_child("NonInvestmentIncomeFilter", "non-investment-incomes",
                          *_txt("date_raw", "source_type", "income_amount")),
        # cl.disclosures.filters.PositionFilter: named apart from the people_db one here.
        _disclosure_child("DisclosurePositionFilter", "disclosure-positions",
                          *_txt("position", "organization_name")),
        _disclosure_child(
            "ReimbursementFilter", "reimbursements",
            *_txt("date_raw", "location", "source", "purpose", "items_paid_or_provided"),
        ),
        _disclosure_child("SpouseIncomeFilter", "spouse-incomes",
                          *_txt("date_raw", "source_type")),
    )
}  # fmt: skip

FILTER_SET_OF: dict[str, str] = {s.resource: s.name for s in FILTER_SETS.values()}


def relation_path(set_name: str, path: tuple[str, ...]) -> list[Related]:
    """The relations a filter name's leading parts walk (KeyError if one is unknown)."""
    out: list[Related] = []
    current = FILTER_SETS[set_name]
    for part in path:
        rel = next(r for r in current.related if r.name == part)
        out.append(rel)
        current = FILTER_SETS[rel.target]
    return out


@cache
def expand(
    set_name: str, depth: int = EXPAND_DEPTH, came_from: str = ""
) -> tuple[FilterField, ...]:
    """Every filter name of ``set_name``: its fields, then each relation as a value filter
    (``court=scotus``) and, while ``depth`` lasts, the related set's names under it."""
    filter_set = FILTER_SETS[set_name]
    out = list(filter_set.fields)
    for rel in filter_set.related:
        if rel.target == came_from:
            continue
        target = FILTER_SETS[rel.target]
        out.append(FilterField(rel.name, target.key, BASIC))
        if depth > 0:
            for sub in expand(rel.target, depth - 1, set_name):
                out.append(FilterField(f"{rel.name}__{sub.name}", sub.type, sub.lookups,
                                       sub.choices))
    return tuple(out)


class LazyFilters(Sequence[FilterField]):
    """A resource's filters, expanded on first use: a DAG file imports the catalogue at
    every parse and most of them never look at the hundreds of related filter names."""

    __slots__ = ("_items", "resource")

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self._items: tuple[FilterField, ...] | None = None

    def _all(self) -> tuple[FilterField, ...]:
        if self._items is None:
            self._items = _expand_resource(self.resource)
        return self._items

    @overload
    def __getitem__(self, index: int) -> FilterField: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FilterField]: ...

    def __getitem__(self, index: int | slice) -> FilterField | Sequence[FilterField]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyFilters):
            return self.resource == other.resource
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(("filters", self.resource))

    def __repr__(self) -> str:
        return f"LazyFilters({self.resource!r})"


def resource_filters(resource: str) -> LazyFilters:
    """The filters a scope of ``resource`` may use; none if its viewset has no filter set."""
    return LazyFilters(resource)


def _expand_resource(resource: str) -> tuple[FilterField, ...]:
    set_name = FILTER_SET_OF.get(resource)
    if set_name is None:
        return ()
    # The resource's own date_modified is the sync window's (courtflow.catalogue.filters.RESERVED).
    return tuple(f for f in expand(set_name) if f.name != "date_modified")
