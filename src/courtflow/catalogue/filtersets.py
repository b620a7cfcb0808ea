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

django-rest-framework-filters (1.0.0.dev2, the server's pin) builds a ``RelatedFilter`` by
handing the parameters under its name to the target filter set, whatever set the walk
came from, and ``is_valid_filter_param`` accepts any path of known relations: so
``opinions?author__opinions_joined__type=020lead`` (the author's *other* opinions) is
valid and kept. Left out on purpose: the negation suffix ``!``, and a *true*
back-reference, a relation followed by its own inverse (``dockets?clusters__docket__court``
is this docket again, ``court`` says it directly): :func:`inverse`.

Choices are the model's codes in the server's source (``cl/search/models.py``,
``cl/search/docket_sources.py``, ``cl/search/cluster_sources.py``,
``cl/people_db/models.py``, ``cl/lib/models.py``, ``cl/audio/models.py``,
``cl/recap/constants.py``, ``cl/disclosures/models.py``), inner codes of grouped choices;
``tests/unit/catalogue/test_catalogue_options_contract.py`` holds them equal to
production's ``OPTIONS``. ``TagFilter`` and ``CitationFilter`` are reached through
relations only (``tags``, ``citations``): ``tag/`` is in the catalogue, but its viewset
(``TagViewSet``) has no ``filterset_class``, so the list itself takes no filter.
The sandbox (``courtflow.sandbox.filtering``) walks these sets as the server does
(back-references included, four relations deep), so a relation also says how it is
stored there: ``via`` is the model field holding the link, on this side
(forward) or on the target's side (``reverse``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from courtflow.catalogue.filters import (
    BASIC,
    BASIC_TEXT_LOOKUPS,
    DATE_LOOKUPS,
    DATETIME_LOOKUPS,
    INTEGER_LOOKUPS,
    FilterField,
    FilterTable,
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
    resource: str  # the catalogue resource whose rows it filters ("" for Tag, Citation)
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
# cl/search/cluster_sources.py ClusterSources.NAMES
CLUSTER_SOURCES = (
    "C", "R", "CR", "L", "LC", "LR", "M", "A", "Z", "ZC", "ZL", "ZLC", "U", "CU", "D", "Q",
    "CRU", "LU", "LCU", "LRU", "LCRU", "MU", "RU", "ZU", "ZLU", "ZCU", "ZLCU", "G", "S",
)  # fmt: skip
# cl/search/docket_sources.py DocketSources.SOURCE_CHOICES: the additive codes 0-255, except
# that the server's list names 72 twice and never 65 (so production refuses source=65).
DOCKET_SOURCES = tuple(str(c) for c in range(256) if c != 65)
OCR_STATUSES = ("1", "2", "3", "4")  # cl/lib/models.py AbstractPDF.OCR_STATUSES
STT_STATUSES = ("0", "1", "2", "3", "4", "5")  # cl/audio/models.py Audio.STT_STATUSES
CITATION_TYPES = tuple(str(c) for c in range(1, 10))  # cl/search/models.py BaseCitation
# cl/people_db/models.py
SUFFIXES = ("jr", "sr", "1", "2", "3", "4")
STATES = (  # localflavor.us USStateField (dob_state, dod_state, location_state): STATE_CHOICES
    "AL", "AK", "AS", "AZ", "AR", "AA", "AE", "AP", "CA", "CO", "CT", "DE", "DC", "FL", "GA",
    "GU", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS",
    "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "MP", "OH", "OK", "OR", "PA",
    "PR", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VI", "VA", "WA", "WV", "WI", "WY",
)  # fmt: skip
POSITION_TYPES = (  # Position.POSITION_TYPES, grouped: the inner codes
    "jud", "jus", "ad-law-jud", "act-jud", "act-jus", "act-pres-jud", "act-c-admin-jus",
    "ass-jud", "ass-jus", "ass-c-jud", "ass-pres-jud", "asst-pres-jud", "c-jud", "c-jus",
    "c-spec-m", "c-admin-jus", "c-spec-tr-jud", "pres-jud", "pres-jus", "sup-jud",
    "ad-pres-jus", "com", "com-dep", "jud-pt", "jus-pt", "ref-jud-tr", "ref-off",
    "ref-state-trial", "ret-act-jus", "ret-ass-jud", "ret-c-jud", "ret-jus", "ret-senior-jud",
    "mag", "c-mag", "pres-mag", "mag-pt", "mag-rc", "mag-part-time", "spec-chair", "spec-jud",
    "spec-m", "spec-scjcbc", "spec-tr-jud", "chair", "chan", "presi-jud", "res-jud",
    "trial-jud", "vice-chan", "vice-cj", "att-gen", "att-gen-ass", "att-gen-ass-spec",
    "sen-counsel", "dep-sol-gen", "pres", "gov", "mayor", "clerk", "clerk-chief-dep",
    "staff-atty", "prof", "adj-prof", "prac", "pros", "pub-def", "da", "ada", "legis", "sen",
    "state-sen",
)  # fmt: skip
COMMITTEE_ACTIONS = ("no_rep", "rep_w_rec", "rep_wo_rec", "rec_postpone", "rec_bad")
NOMINATION_PROCESSES = ("fed_senate", "state_senate", "election", "merit_comm")
SELECTION_METHODS = (  # Position.SELECTION_METHODS, grouped: the inner codes
    "e_part", "e_non_part", "a_pres", "a_gov", "a_legis", "a_judge", "ct_trans",
)  # fmt: skip
TERMINATION_REASONS = (
    "ded", "retire_vol", "retire_mand", "resign", "other_pos", "lost", "abolished",
    "bad_judge", "recess_not_confirmed", "termed_out",
)  # fmt: skip
RETENTION_TYPES = ("reapp_gov", "reapp_leg", "elec_p", "elec_n", "elec_u")
DEGREE_LEVELS = ("ba", "ma", "jd", "llm", "llb", "jsd", "phd", "aa", "md", "mba", "cfa", "cert")
POLITICAL_PARTIES = ("d", "r", "i", "g", "l", "f", "w", "j", "u", "z")
AFFILIATION_SOURCES = ("b", "a", "o")
ABA_RATINGS = ("ewq", "wq", "q", "nq", "nqa")
# cl/recap/constants.py (FjcIntegratedDatabase's choices); grouped ones: the inner codes
FJC_DATASET_SOURCES = ("1", "2", "8", "9", "10", "3", "4", "5", "6", "7")
FJC_ORIGINS = tuple(str(c) for c in range(1, 14))
FJC_JURISDICTIONS = ("1", "2", "3", "4", "5")
FJC_ARBITRATION = ("M", "V", "E", "Y")
FJC_CLASS_ACTION_STATUSES = ("2", "3")
FJC_PROCEDURAL_PROGRESSES = ("1", "2", "11", "12", "3", "4", "5", "6", "7", "8", "9", "10", "13")
FJC_DISPOSITIONS = (
    "0", "1", "10", "11", "2", "3", "12", "13", "14", "4", "5", "6", "7", "8", "9", "15",
    "16", "17", "18", "19", "20",
)  # fmt: skip
FJC_JUDGMENTS = ("1", "2", "3", "4")
FJC_PRO_SE = ("0", "1", "2", "3")
# cl/disclosures/models.py: CODES.GROSS_VALUE and CODES.INCOME_GAIN
VALUE_CODES = ("J", "K", "L", "M", "N", "O", "P1", "P2", "P3", "P4", "-1")
INCOME_CODES = ("A", "B", "C", "D", "E", "F", "G", "H1", "H2", "-1")
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
                fchoice("jurisdiction", JURISDICTIONS, multiple=True), ftext("parent_court", BASIC),
            ),
            (Related("dockets", "DocketFilter", "court", reverse=True),),
        ),
        FilterSetDef(
            "DocketFilter", "dockets", "int",
            (
                *_ints("id"), *_STAMPS, *_d("date_filed", "date_terminated", "date_last_filing"),
                ftext("docket_number", BASIC), ftext("docket_number_core", ("exact", "startswith")),
                *_txt("nature_of_suit"), ftext("pacer_case_id", BASIC),
                fchoice("source", DOCKET_SOURCES, _IN, type="int"),
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
                Related("tags", "TagFilter", "tags"),
            ),
        ),
        FilterSetDef(
            "OpinionFilter", "opinions", "int",
            (
                *_ints("id"), *_STAMPS, ftext("sha1", BASIC),
                *_bools("extracted_by_ocr", "per_curiam"),
                fchoice("type", OPINION_TYPES, multiple=True),
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
                fbool("blocked"), fchoice("source", CLUSTER_SOURCES, multiple=True),
            ),
            (
                Related("docket", "DocketFilter", "docket"),
                Related("panel", "PersonFilter", "panel"),
                Related("non_participating_judges", "PersonFilter", "non_participating_judges"),
                Related("sub_opinions", "OpinionFilter", "cluster", reverse=True),
                Related("citations", "CitationFilter", "cluster", reverse=True),
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
                Related("tags", "TagFilter", "tags"),
            ),
        ),
        FilterSetDef(
            "RECAPDocumentFilter", "recap-documents", "int",
            (
                *_ints("id"), *_STAMPS, *_dt("date_upload"), fchoice("document_type", (1, 2)),
                ftext("document_number", ("exact", "gte", "gt", "lte", "lt")),
                ftext("pacer_doc_id", _IN), fbool("is_available"), ftext("sha1", BASIC),
                fchoice("ocr_status", OCR_STATUSES, INTEGER_LOOKUPS, type="int"),
                fbool("is_free_on_pacer"),
            ),
            (
                Related("docket_entry", "DocketEntryFilter", "docket_entry"),
                Related("tags", "TagFilter", "tags"),
            ),
        ),
        FilterSetDef(
            "AudioFilter", "audio", "int",
            (
                *_ints("id"), *_STAMPS, ftext("sha1", BASIC), fbool("blocked"),
                *_d("date_blocked"), fbool("processing_complete"),
                fchoice("stt_status", STT_STATUSES, INTEGER_LOOKUPS, type="int"),
                fchoice("source", AUDIO_SOURCES, multiple=True),
            ),
            (Related("docket", "DocketFilter", "docket"),),
        ),
        FilterSetDef(
            "PersonFilter", "people", "int",
            (
                *_ints("id"), *_STAMPS, *_d("date_dob", "date_dod"),
                *_txt("name_first", "name_middle", "name_last"),
                fchoice("name_suffix", SUFFIXES, BASIC_TEXT_LOOKUPS),
                *_exact_int("is_alias_of", "fjc_id"), ftext("ftm_eid", BASIC),
                *_txt("dob_city"), fchoice("dob_state", STATES, BASIC_TEXT_LOOKUPS),
                *_txt("dod_city"), fchoice("dod_state", STATES, BASIC_TEXT_LOOKUPS),
                fchoice("gender", ("m", "f", "o")), fchoice("race", RACES, multiple=True),
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
                *_ints("id"), fchoice("position_type", POSITION_TYPES),
                *_exact_int("person", "appointer", "predecessor"), *_txt("job_title"), *_STAMPS,
                *_d(
                    "date_nominated", "date_elected", "date_recess_appointment",
                    "date_referred_to_judicial_committee", "date_judicial_committee_action",
                    "date_hearing", "date_confirmation", "date_start", "date_retirement",
                    "date_termination",
                ),
                fchoice("judicial_committee_action", COMMITTEE_ACTIONS),
                fchoice("nomination_process", NOMINATION_PROCESSES),
                fbool("voice_vote"), *_ints("votes_yes", "votes_no"),
                fchoice("how_selected", SELECTION_METHODS),
                fchoice("termination_reason", TERMINATION_REASONS),
                *_txt("location_city"), fchoice("location_state", STATES, BASIC_TEXT_LOOKUPS),
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
                fchoice("retention_type", RETENTION_TYPES), *_ints("votes_yes", "votes_no"),
                *_bools("unopposed", "won"),
            ),
        ),
        FilterSetDef(
            "EducationFilter", "educations", "int",
            (
                *_ints("id"), *_STAMPS, *_exact_int("degree_year"), *_txt("degree_detail"),
                fchoice("degree_level", DEGREE_LEVELS),
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
                fchoice("political_party", POLITICAL_PARTIES),
                fchoice("source", AFFILIATION_SOURCES), *_exact_int("person"),
            ),
        ),
        FilterSetDef(
            "SourceFilter", "sources", "int",
            (*_exact_int("id"), *_dt("date_modified"), *_exact_int("person")),
        ),
        FilterSetDef(
            "ABARatingFilter", "aba-ratings", "int",
            (
                *_ints("id"), *_STAMPS, *_ints("year_rated"), fchoice("rating", ABA_RATINGS),
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
                fchoice("dataset_source", FJC_DATASET_SOURCES, _IN, type="int"), *_STAMPS,
                *_exact_text("circuit", "district"),
                fchoice("origin", FJC_ORIGINS, _IN, type="int"), *_d("date_filed"),
                fchoice("jurisdiction", FJC_JURISDICTIONS, _IN, type="int"),
                *_txt("title", "section", "subsection"),
                fchoice("arbitration_at_filing", FJC_ARBITRATION, _IN),
                fchoice("arbitration_at_termination", FJC_ARBITRATION, _IN),
                fbool("class_action"), *_txt("plaintiff", "defendant"),
                fchoice("termination_class_action_status", FJC_CLASS_ACTION_STATUSES, _IN,
                        type="int"),
                fchoice("procedural_progress", FJC_PROCEDURAL_PROGRESSES, _IN, type="int"),
                fchoice("disposition", FJC_DISPOSITIONS, _IN, type="int"),
                fchoice("judgment", FJC_JUDGMENTS, _IN, type="int"),
                fchoice("pro_se", FJC_PRO_SE, _IN, type="int"),
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
                          fchoice("value_code", VALUE_CODES)),
        FilterSetDef(
            "GiftFilter", "gifts", "int",
            (*_ints("id"), *_STAMPS, *_txt("source", "description", "value"), fbool("redacted")),
            _TO_DISCLOSURE,
        ),
        _disclosure_child(
            "InvestmentFilter", "investments", *_txt("description"),
            fchoice("gross_value_code", VALUE_CODES),
            fchoice("income_during_reporting_period_code", INCOME_CODES),
            *_txt("transaction_during_reporting_period"),
            fchoice("transaction_value_code", VALUE_CODES),
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
        # cl.search.filters.TagFilter and CitationFilter: reached through relations only.
        FilterSetDef("TagFilter", "", "int", (*_exact_int("id"), *_exact_text("name"))),
        FilterSetDef(
            "CitationFilter", "", "int",
            (
                *_exact_int("volume"), *_exact_text("reporter", "page"),
                fchoice("type", CITATION_TYPES, type="int"),
            ),
        ),
    )
}  # fmt: skip

FILTER_SET_OF: dict[str, str] = {s.resource: s.name for s in FILTER_SETS.values() if s.resource}


def relation_path(set_name: str, path: tuple[str, ...]) -> list[Related]:
    """The relations a filter name's leading parts walk (KeyError if one is unknown)."""
    out: list[Related] = []
    current = FILTER_SETS[set_name]
    for part in path:
        rel = next(r for r in current.related if r.name == part)
        out.append(rel)
        current = FILTER_SETS[rel.target]
    return out


def inverse(came: Related | None, came_from: str, rel: Related) -> bool:
    """Whether ``rel`` walks ``came`` (taken from set ``came_from``) straight back: the same
    link (``via``) in the other direction to the set it came from. Only that is dropped:
    ``opinions?author__opinions_joined__...`` reaches PersonFilter's other link to
    opinions, a different set of rows, and the server takes it."""
    return (
        came is not None
        and rel.target == came_from
        and rel.via == came.via
        and rel.reverse != came.reverse
    )


@cache
def expand(
    set_name: str, depth: int = EXPAND_DEPTH, came_from: str = "", came: Related | None = None
) -> tuple[FilterField, ...]:
    """Every filter name of ``set_name``: its fields, then each relation as a value filter
    (``court=scotus``) and, while ``depth`` lasts, the related set's names under it; a
    relation back along the one just walked (:func:`inverse`) is left out."""
    filter_set = FILTER_SETS[set_name]
    out = list(filter_set.fields)
    for rel in filter_set.related:
        if inverse(came, came_from, rel):
            continue
        target = FILTER_SETS[rel.target]
        out.append(FilterField(rel.name, target.key, BASIC))
        if depth > 0:
            for sub in expand(rel.target, depth - 1, set_name, rel):
                out.append(FilterField(f"{rel.name}__{sub.name}", sub.type, sub.lookups,
                                       sub.choices, sub.multiple))
    return tuple(out)


class LazyFilters(FilterTable):
    """A resource's filters, expanded on first use: a DAG file imports the catalogue at
    every parse and most of them never look at the hundreds of related filter names."""

    __slots__ = ("_items", "resource")

    def __init__(self, resource: str) -> None:
        super().__init__()
        self.resource = resource
        self._items: tuple[FilterField, ...] | None = None

    def _all(self) -> tuple[FilterField, ...]:
        if self._items is None:
            self._items = _expand_resource(self.resource)
        return self._items

    def why_not(self, name: str) -> str | None:
        """A true back-reference, named with the shorter path that says the same."""
        set_name = FILTER_SET_OF.get(self.resource)
        parts = name.split("__")
        came: Related | None = None
        came_from = ""
        for i, part in enumerate(parts):
            if set_name is None:
                return None
            rel = next((r for r in FILTER_SETS[set_name].related if r.name == part), None)
            if rel is None:
                return None
            if inverse(came, came_from, rel):
                shorter = "__".join((*parts[: i - 1], *parts[i + 1 :])) or "id"
                return (
                    f"{parts[i - 1]}__{part} leads straight back to where it started "
                    f"(a back-reference, left out); say {shorter!r}"
                )
            came, came_from, set_name = rel, set_name, rel.target
        return None

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
