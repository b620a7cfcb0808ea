"""Model-shaped rows to API v4 records, as the server's serializers shape them.

Related objects become hyperlinks (``court``, ``docket``, ``cluster``, ``author``...),
with plain ids beside the ones the server adds them to (``court_id``, ``docket_id``,
``cluster_id``, ``author_id``); every object has ``resource_uri`` and ``id``;
timestamps are rendered in America/Los_Angeles. An edited row (``version > 0``, see
``touch``) shows the edit in one text field so content checksums notice it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from courtflow.sandbox.timefmt import render

Fields = Mapping[str, Any]
Nested = Callable[[int], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Row:
    """What the index knows about one record when it is served."""

    id: Any
    date_modified: int
    date_created: int | None
    version: int
    fields: Fields


class Links:
    """Absolute API links on the host the client called (as DRF builds them)."""

    __slots__ = ("base",)

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/"

    def to(self, resource: str, key: Any) -> str | None:
        return None if key is None else f"{self.base}{resource}/{key}/"

    def many(self, resource: str, keys: Any) -> list[str]:
        return [f"{self.base}{resource}/{k}/" for k in (keys or ())]


def _edited(text: Any, version: int) -> Any:
    if version <= 0:
        return text
    return f"{text or ''} [revision {version}]"


def _stamps(row: Row) -> dict[str, Any]:
    return {
        "date_created": None if row.date_created is None else render(row.date_created),
        "date_modified": render(row.date_modified),
    }


def docket(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    f = row.fields
    slug = f.get("slug", "")
    return {
        "resource_uri": links.to("dockets", row.id), "id": row.id,
        "court": links.to("courts", f.get("court")), "court_id": f.get("court"),
        "original_court_info": None, "idb_data": None,
        "clusters": links.many("clusters", f.get("clusters")), "audio_files": [],
        "assigned_to": links.to("people", f.get("assigned_to")),
        "referred_to": links.to("people", f.get("referred_to")),
        "absolute_url": f"/docket/{row.id}/{slug}/", **_stamps(row),
        "source": f.get("source", 0), "appeal_from_str": "",
        "assigned_to_str": f.get("assigned_to_str", ""),
        "referred_to_str": f.get("referred_to_str", ""), "panel_str": "",
        "date_last_index": None, "date_cert_granted": f.get("date_cert_granted"),
        "date_cert_denied": f.get("date_cert_denied"), "date_argued": f.get("date_argued"),
        "date_reargued": f.get("date_reargued"),
        "date_reargument_denied": f.get("date_reargument_denied"),
        "date_filed": f.get("date_filed"), "date_terminated": f.get("date_terminated"),
        "date_last_filing": f.get("date_last_filing"),
        "case_name_short": f.get("case_name_short", ""),
        "case_name": _edited(f.get("case_name", ""), row.version),
        "case_name_full": f.get("case_name_full", ""), "slug": slug,
        "docket_number": f.get("docket_number", ""),
        "docket_number_core": "".join(c for c in f.get("docket_number") or "" if c.isdigit()),
        "docket_number_raw": f.get("docket_number_raw", ""),
        "docket_number_source": f.get("docket_number_source", 0),
        "federal_dn_office_code": "", "federal_dn_case_type": "",
        "federal_dn_judge_initials_assigned": "", "federal_dn_judge_initials_referred": "",
        "federal_defendant_number": None,
        "pacer_case_id": f.get("pacer_case_id"), "cause": f.get("cause", ""),
        "nature_of_suit": f.get("nature_of_suit", ""), "jury_demand": f.get("jury_demand", ""),
        "jurisdiction_type": f.get("jurisdiction_type", ""), "appellate_fee_status": "",
        "appellate_case_type_information": "", "mdl_status": "",
        "filepath_ia": f.get("filepath_ia", ""), "filepath_ia_json": "",
        "ia_upload_failure_count": None, "ia_needs_upload": None, "ia_date_first_change": None,
        "date_blocked": f.get("date_blocked"), "blocked": f.get("blocked", False),
        "appeal_from": None, "parent_docket": None, "tags": [],
        "panel": links.many("people", f.get("panel")),
    }  # fmt: skip


def cluster(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    f = row.fields
    return {
        "resource_uri": links.to("clusters", row.id), "id": row.id,
        "absolute_url": f"/opinion/{row.id}/{f.get('slug', '')}/",
        "panel": links.many("people", f.get("panel")),
        "non_participating_judges": links.many("people", f.get("non_participating_judges")),
        "docket_id": f.get("docket"), "docket": links.to("dockets", f.get("docket")),
        "sub_opinions": links.many("opinions", f.get("sub_opinions")),
        "citations": list(f.get("citations") or []), **_stamps(row),
        "judges": f.get("judges", ""), "date_filed": f.get("date_filed"),
        "date_filed_is_approximate": False, "slug": f.get("slug", ""),
        "case_name_short": f.get("case_name_short", ""),
        "case_name": _edited(f.get("case_name", ""), row.version),
        "case_name_full": f.get("case_name_full", ""), "scdb_id": f.get("scdb_id", ""),
        "scdb_decision_direction": None, "scdb_votes_majority": f.get("scdb_votes_majority"),
        "scdb_votes_minority": f.get("scdb_votes_minority"), "source": f.get("source", ""),
        "procedural_history": f.get("procedural_history", ""),
        "attorneys": f.get("attorneys", ""), "nature_of_suit": f.get("nature_of_suit", ""),
        "posture": f.get("posture", ""), "syllabus": f.get("syllabus", ""), "headnotes": "",
        "summary": "", "disposition": "", "history": "", "other_dates": "",
        "cross_reference": "", "correction": "", "citation_count": f.get("citation_count", 0),
        "precedential_status": f.get("precedential_status", ""),
        "date_blocked": f.get("date_blocked"), "blocked": f.get("blocked", False),
        # File fields: the API shows an empty one as null.
        "filepath_json_harvard": None, "filepath_pdf_harvard": None, "arguments": "",
        "headmatter": "",
    }  # fmt: skip


def opinion(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    f = row.fields
    return {
        "resource_uri": links.to("opinions", row.id), "id": row.id,
        "absolute_url": f"/opinion/{f.get('cluster')}/{f.get('slug', 'opinion')}/",
        "cluster_id": f.get("cluster"), "cluster": links.to("clusters", f.get("cluster")),
        "author_id": f.get("author"), "author": links.to("people", f.get("author")),
        "joined_by": links.many("people", f.get("joined_by")), **_stamps(row),
        "author_str": "", "per_curiam": f.get("per_curiam", False), "joined_by_str": "",
        "type": f.get("type", "010combined"), "sha1": f.get("sha1", ""),
        "page_count": f.get("page_count"), "download_url": f.get("download_url"),
        "local_path": f.get("local_path") or None,
        "plain_text": _edited(f.get("plain_text", ""), row.version),
        "html": f.get("html", ""), "html_lawbox": f.get("html_lawbox", ""),
        "html_columbia": f.get("html_columbia", ""), "html_anon_2020": "", "xml_harvard": "",
        "xml_scan": "",
        "html_with_citations": f.get("html_with_citations", ""),
        "extracted_by_ocr": f.get("extracted_by_ocr", False),
        "ordering_key": f.get("ordering_key"),
        "opinions_cited": links.many("opinions", f.get("opinions_cited")),
    }  # fmt: skip


def recap_document(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    # The server's RECAPDocumentSerializer excludes ``docket_entry``.
    f = row.fields
    available = bool(f.get("is_available", False))
    return {
        "resource_uri": links.to("recap-documents", row.id), "id": row.id, "tags": [],
        "absolute_url": f"/recap-document/{row.id}/", **_stamps(row),
        "date_upload": f.get("date_upload"), "document_type": f.get("document_type", 1),
        "document_number": f.get("document_number", ""),
        "attachment_number": f.get("attachment_number"),
        "pacer_doc_id": f.get("pacer_doc_id", ""), "is_available": available,
        "is_free_on_pacer": f.get("is_free_on_pacer"), "is_sealed": False,
        "sha1": f.get("sha1", ""), "page_count": f.get("page_count"), "file_size": None,
        "filepath_local": f.get("filepath_local", ""), "filepath_ia": f.get("filepath_ia", ""),
        "ia_upload_failure_count": None, "thumbnail": None, "thumbnail_status": 0,
        "plain_text": f.get("plain_text", ""), "ocr_status": f.get("ocr_status"),
        "description": _edited(f.get("description", ""), row.version),
        "acms_document_guid": "",
    }  # fmt: skip


def docket_entry(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    f = row.fields
    documents = [nested(d) for d in f.get("recap_documents") or ()] if nested else []
    return {
        "resource_uri": links.to("docket-entries", row.id), "id": row.id,
        "docket": links.to("dockets", f.get("docket")),
        "recap_documents": [d for d in documents if d is not None], "tags": [],
        **_stamps(row), "date_filed": f.get("date_filed"), "time_filed": None,
        "entry_number": f.get("entry_number"), "recap_sequence_number": "",
        "pacer_sequence_number": f.get("pacer_sequence_number"),
        "description": _edited(f.get("description", ""), row.version),
    }  # fmt: skip


def person(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    f = row.fields
    return {
        "resource_uri": links.to("people", row.id), "id": row.id,
        "race": list(f.get("race") or []), "aba_ratings": [], "educations": [],
        "political_affiliations": [], "positions": [], "sources": [],
        "is_alias_of": links.to("people", f.get("is_alias_of")), **_stamps(row),
        "date_completed": None, "fjc_id": f.get("fjc_id"),
        "slug": f.get("slug", ""), "name_first": f.get("name_first", ""),
        "name_middle": f.get("name_middle", ""), "name_last": f.get("name_last", ""),
        "name_suffix": f.get("name_suffix", ""), "date_dob": f.get("date_dob"),
        "date_granularity_dob": f.get("date_granularity_dob", ""),
        "date_dod": f.get("date_dod"), "date_granularity_dod": f.get("date_granularity_dod", ""),
        "dob_city": _edited(f.get("dob_city", ""), row.version),
        "dob_state": f.get("dob_state", ""), "dob_country": "United States",
        "dod_city": f.get("dod_city", ""), "dod_state": f.get("dod_state", ""),
        "dod_country": "United States", "gender": f.get("gender", ""), "religion": "",
        "ftm_total_received": None, "ftm_eid": "", "has_photo": False,
    }  # fmt: skip


def court(row: Row, links: Links, nested: Nested | None = None) -> dict[str, Any]:
    # The server's CourtSerializer excludes ``notes``; courts have no date_created.
    f = row.fields
    return {
        "resource_uri": links.to("courts", row.id), "id": row.id,
        "pacer_court_id": f.get("pacer_court_id"),
        "pacer_has_rss_feed": f.get("pacer_has_rss_feed"), "pacer_rss_entry_types": "",
        "date_last_pacer_contact": None, "fjc_court_id": f.get("fjc_court_id", ""),
        "date_modified": render(row.date_modified), "in_use": f.get("in_use", True),
        "has_opinion_scraper": f.get("has_opinion_scraper", False),
        "has_oral_argument_scraper": f.get("has_oral_argument_scraper", False),
        "position": f.get("position"), "citation_string": f.get("citation_string", ""),
        "short_name": f.get("short_name", ""),
        "full_name": _edited(f.get("full_name", ""), row.version), "url": f.get("url", ""),
        "start_date": f.get("start_date"), "end_date": f.get("end_date"),
        "jurisdiction": f.get("jurisdiction", ""), "parent_court": None, "appeals_to": [],
    }  # fmt: skip


SERIALIZERS: dict[str, Callable[[Row, Links, Nested | None], dict[str, Any]]] = {
    "courts": court,
    "dockets": docket,
    "clusters": cluster,
    "opinions": opinion,
    "docket-entries": docket_entry,
    "recap-documents": recap_document,
    "people": person,
}


def select_fields(
    record: dict[str, Any], fields: tuple[str, ...], omit: tuple[str, ...]
) -> dict[str, Any]:
    """``fields=a,b`` keeps, ``omit=x,y`` drops; ``parent__child`` reaches nested records."""
    if fields:
        top = {name.split("__", 1)[0] for name in fields}
        record = {k: v for k, v in record.items() if k in top}
        for parent in {name.split("__", 1)[0] for name in fields if "__" in name}:
            if parent in fields or parent not in record:
                continue  # the whole nested value was asked for, or there is none
            keep = tuple(n.split("__", 1)[1] for n in fields if n.startswith(parent + "__"))
            record[parent] = _apply_nested(record[parent], keep, ())
    for name in omit:
        if "__" in name:
            parent, child = name.split("__", 1)
            if parent in record:
                record[parent] = _apply_nested(record[parent], (), (child,))
        else:
            record.pop(name, None)
    return record


def _apply_nested(value: Any, fields: tuple[str, ...], omit: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return select_fields(value, fields, omit)
    if isinstance(value, list):
        return [select_fields(v, fields, omit) if isinstance(v, dict) else v for v in value]
    return value


def dumps(body: Any) -> bytes:
    """Django REST framework's JSONRenderer: compact separators, UTF-8 without escapes."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class EncodedCache:
    """Encoded records by (resource, id, revision, host, fields, omit); bounded by clearing.

    A record's bytes change only with a new revision (touch), so repeated walks over the
    same data (benchmarks, retries) skip serialization entirely.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self._items: dict[Hashable, bytes] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        return self._items.get(key)

    def put(self, key: Hashable, blob: bytes) -> None:
        with self._lock:
            if len(self._items) >= self._limit:
                self._items.clear()
            self._items[key] = blob
