"""The catalogue of CourtListener's bulk CSV exports: file name -> table, columns, resource.

Read from the server's ``scripts/make_bulk_data.sh`` (snapshot 2026-08): each export is
``COPY <table> (<columns>) TO STDOUT WITH (FORMAT csv, ENCODING utf8, HEADER, ESCAPE '\\',
FORCE_QUOTE *)``, bzip2-compressed and published as ``<name>-<YYYY-MM-DD>.csv.bz2``.
The column order below is the script's (the header must match it, names and order).

A column's type is what its Django field stores, as far as the bootstrap needs it:
``i`` integer, ``b`` boolean, ``f`` float, ``d`` date, ``t`` timestamp with time zone,
untagged text. Types decide how a value is written into the JSON record (a number, a
boolean, an ISO string) so it has the shape the API renders; a column whose type is not
certain stays text (a typed table column still casts it). The ``resource`` is the
catalogue's (courtflow.catalogue.resources) name for the same rows, the API's endpoint name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from courtflow.catalogue.resources import RESOURCES, ResourceSpec

ExportType = Literal["int", "bool", "float", "date", "datetime", "text"]

_TAGS: dict[str, ExportType] = {
    "i": "int", "b": "bool", "f": "float", "d": "date", "t": "datetime", "": "text",
}  # fmt: skip

# Every export file: <name>-<YYYY-MM-DD>.csv.bz2 (also accepted without .bz2, decompressed).
FILE_NAME = re.compile(r"^(?P<name>[a-z_-]+?)-(?P<date>\d{4}-\d{2}-\d{2})\.csv(?:\.bz2)?$")


@dataclass(frozen=True)
class ExportColumn:
    name: str
    type: ExportType


@dataclass(frozen=True)
class Export:
    """One bulk export: its file name stem, the server table it dumps, and its columns."""

    name: str
    table: str
    resource: str  # the catalogue resource (API endpoint name) its rows belong to
    columns: tuple[ExportColumn, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ExportColumn | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    @property
    def spec(self) -> ResourceSpec | None:
        """The catalogue's resource, or None while the catalogue has no such resource."""
        return RESOURCES.get(self.resource)


def _columns(text: str) -> tuple[ExportColumn, ...]:
    out = []
    for item in text.split():
        name, _, tag = item.partition(":")
        out.append(ExportColumn(name, _TAGS[tag]))
    return tuple(out)


_STAMPS = "id:i date_created:t date_modified:t"

EXPORTS: dict[str, Export] = {
    e.name: e
    for e in (
        Export("courts", "search_court", "courts", _columns(
            "id pacer_court_id:i pacer_has_rss_feed:b pacer_rss_entry_types "
            "date_last_pacer_contact:t fjc_court_id date_modified:t in_use:b "
            "has_opinion_scraper:b has_oral_argument_scraper:b position:f citation_string "
            "short_name full_name url start_date:d end_date:d jurisdiction notes "
            "parent_court_id")),
        Export("dockets", "search_docket", "dockets", _columns(
            f"{_STAMPS} source:i appeal_from_str assigned_to_str referred_to_str panel_str "
            "date_last_index:t date_cert_granted:d date_cert_denied:d date_argued:d "
            "date_reargued:d date_reargument_denied:d date_filed:d date_terminated:d "
            "date_last_filing:d case_name_short case_name case_name_full slug docket_number "
            "docket_number_core pacer_case_id cause nature_of_suit jury_demand "
            "jurisdiction_type appellate_fee_status appellate_case_type_information "
            "mdl_status filepath_local filepath_ia filepath_ia_json ia_upload_failure_count:i "
            "ia_needs_upload:b ia_date_first_change:t view_count:i date_blocked:d blocked:b "
            "appeal_from_id assigned_to_id:i court_id idb_data_id:i "
            "originating_court_information_id:i referred_to_id:i federal_dn_case_type "
            "federal_dn_office_code federal_dn_judge_initials_assigned "
            "federal_dn_judge_initials_referred federal_defendant_number:i "
            "parent_docket_id:i docket_number_raw docket_number_source:i")),
        Export("originating-court-information", "search_originatingcourtinformation",
               "originating-court-information", _columns(
            f"{_STAMPS} docket_number assigned_to_str ordering_judge_str court_reporter "
            "date_disposed:d date_filed:d date_judgment:d date_judgment_eod:d "
            "date_filed_noa:d date_received_coa:d assigned_to_id:i ordering_judge_id:i "
            "docket_number_raw")),
        Export("fjc-integrated-database", "recap_fjcintegrateddatabase",
               "fjc-integrated-database", _columns(
            f"{_STAMPS} dataset_source:i office docket_number origin:i date_filed:d "
            "jurisdiction:i nature_of_suit:i title section subsection diversity_of_residence:i "
            "class_action:b monetary_demand:i county_of_residence:i arbitration_at_filing "
            "arbitration_at_termination multidistrict_litigation_docket_number plaintiff "
            "defendant date_transfer:d transfer_office transfer_docket_number transfer_origin "
            "date_terminated:d termination_class_action_status:i procedural_progress:i "
            "disposition:i nature_of_judgement:i amount_received:i judgment:i pro_se:i "
            "year_of_tape:i nature_of_offense version:i circuit_id district_id")),
        Export("opinion-clusters", "search_opinioncluster", "clusters", _columns(
            f"{_STAMPS} judges date_filed:d date_filed_is_approximate:b slug case_name_short "
            "case_name case_name_full scdb_id scdb_decision_direction:i scdb_votes_majority:i "
            "scdb_votes_minority:i source procedural_history attorneys nature_of_suit posture "
            "syllabus headnotes summary disposition history other_dates cross_reference "
            "correction citation_count:i precedential_status date_blocked:d blocked:b "
            "filepath_json_harvard filepath_pdf_harvard docket_id:i arguments headmatter")),
        Export("opinions", "search_opinion", "opinions", _columns(
            f"{_STAMPS} author_str per_curiam:b joined_by_str type sha1 page_count:i "
            "download_url local_path plain_text html html_lawbox html_columbia html_anon_2020 "
            "xml_harvard xml_scan html_with_citations extracted_by_ocr:b author_id:i "
            "cluster_id:i")),
        Export("citations", "search_citation", "citations", _columns(
            "id:i volume:i reporter page type:i cluster_id:i date_created:t date_modified:t")),
        Export("citation-map", "search_opinionscited", "opinions-cited", _columns(
            "id:i depth:i cited_opinion_id:i citing_opinion_id:i")),
        Export("oral-arguments", "audio_audio", "audio", _columns(
            f"{_STAMPS} source case_name_short case_name case_name_full judges sha1 "
            "download_url local_path_mp3 local_path_original_file filepath_ia "
            "ia_upload_failure_count:i duration:i processing_complete:b date_blocked:d "
            "blocked:b stt_status:i stt_transcript stt_source:i docket_id:i")),
        Export("people-db-people", "people_db_person", "people", _columns(
            f"{_STAMPS} date_completed:t fjc_id:i slug name_first name_middle name_last "
            "name_suffix date_dob:d date_granularity_dob date_dod:d date_granularity_dod "
            "dob_city dob_state dob_country dod_city dod_state dod_country gender religion "
            "ftm_total_received:f ftm_eid has_photo:b is_alias_of_id:i")),
        Export("people-db-schools", "people_db_school", "schools", _columns(
            f"{_STAMPS} name ein:i is_alias_of_id:i")),
        Export("people-db-positions", "people_db_position", "positions", _columns(
            f"{_STAMPS} position_type job_title sector:i organization_name location_city "
            "location_state date_nominated:d date_elected:d date_recess_appointment:d "
            "date_referred_to_judicial_committee:d date_judicial_committee_action:d "
            "judicial_committee_action date_hearing:d date_confirmation:d date_start:d "
            "date_granularity_start date_termination:d termination_reason "
            "date_granularity_termination date_retirement:d nomination_process vote_type "
            "voice_vote:b votes_yes:i votes_no:i votes_yes_percent votes_no_percent "
            "how_selected has_inferred_values:b appointer_id:i court_id person_id:i "
            "predecessor_id:i school_id:i supervisor_id:i")),
        Export("people-db-retention-events", "people_db_retentionevent", "retention-events",
               _columns(
            f"{_STAMPS} retention_type date_retention:d votes_yes:i votes_no:i "
            "votes_yes_percent votes_no_percent unopposed:b won:b position_id:i")),
        Export("people-db-educations", "people_db_education", "educations", _columns(
            f"{_STAMPS} degree_level degree_detail degree_year:i person_id:i school_id:i")),
        Export("people-db-political-affiliations", "people_db_politicalaffiliation",
               "political-affiliations", _columns(
            f"{_STAMPS} political_party source date_start:d date_granularity_start "
            "date_end:d date_granularity_end person_id:i")),
        Export("financial-disclosures", "disclosures_financialdisclosure",
               "financial-disclosures", _columns(
            f"{_STAMPS} year:i download_filepath filepath thumbnail thumbnail_status:i "
            "page_count:i sha1 report_type:i is_amended:b addendum_content_raw "
            "addendum_redacted:b has_been_extracted:b person_id:i")),
        Export("financial-disclosure-investments", "disclosures_investment", "investments",
               _columns(
            f"{_STAMPS} page_number:i description redacted:b "
            "income_during_reporting_period_code income_during_reporting_period_type "
            "gross_value_code gross_value_method transaction_during_reporting_period "
            "transaction_date_raw transaction_date:d transaction_value_code "
            "transaction_gain_code transaction_partner has_inferred_values:b "
            "financial_disclosure_id:i")),
        Export("financial-disclosures-positions", "disclosures_position",
               "disclosure-positions", _columns(
            f"{_STAMPS} position organization_name redacted:b financial_disclosure_id:i")),
        Export("financial-disclosures-agreements", "disclosures_agreement", "agreements",
               _columns(
            f"{_STAMPS} date_raw parties_and_terms redacted:b financial_disclosure_id:i")),
        Export("financial-disclosures-non-investment-income", "disclosures_noninvestmentincome",
               "non-investment-incomes", _columns(
            f"{_STAMPS} date_raw source_type income_amount redacted:b "
            "financial_disclosure_id:i")),
        Export("financial-disclosures-spousal-income", "disclosures_spouseincome",
               "spouse-incomes", _columns(
            f"{_STAMPS} source_type date_raw redacted:b financial_disclosure_id:i")),
        Export("financial-disclosures-reimbursements", "disclosures_reimbursement",
               "reimbursements", _columns(
            f"{_STAMPS} source date_raw location purpose items_paid_or_provided redacted:b "
            "financial_disclosure_id:i")),
        Export("financial-disclosures-gifts", "disclosures_gift", "gifts", _columns(
            f"{_STAMPS} source description value redacted:b financial_disclosure_id:i")),
        Export("financial-disclosures-debts", "disclosures_debt", "debts", _columns(
            f"{_STAMPS} creditor_name description value_code redacted:b "
            "financial_disclosure_id:i")),
    )
}  # fmt: skip

# Exports of tables no API resource lists (join tables, lookups): not loadable here.
NOT_RESOURCES: tuple[str, ...] = (
    "courthouses", "court-appeals-to", "search_opinion_joined_by", "parentheticals",
    "people_db_race", "people-db-races", "search_opinioncluster_panel",
    "search_opinioncluster_non_participating_judges", "unmatched-citations",
)  # fmt: skip


@dataclass(frozen=True)
class ExportFile:
    """A file recognised as an export: which one, and the date in its name."""

    export: Export
    date: date | None


def by_resource(resource: str) -> Export | None:
    for export in EXPORTS.values():
        if export.resource == resource:
            return export
    return None


def recognise(file_name: str) -> tuple[str, date] | None:
    """``"dockets-2026-10-31.csv.bz2"`` -> ``("dockets", date(2026, 10, 31))``; None if not
    an export's name."""
    match = FILE_NAME.match(file_name)
    if match is None:
        return None
    try:
        return match.group("name"), date.fromisoformat(match.group("date"))
    except ValueError:
        return None


def loadable() -> dict[str, Export]:
    """Exports whose resource the catalogue has, by export name."""
    return {name: e for name, e in EXPORTS.items() if e.spec is not None}


def missing() -> dict[str, str]:
    """Exports the catalogue has no resource for yet: export name -> resource name."""
    return {name: e.resource for name, e in EXPORTS.items() if e.spec is None}
