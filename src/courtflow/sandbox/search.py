"""``search/`` (v4) in the sandbox: Elasticsearch emulated over the sandbox's records.

Faithful to the server's source (freelawproject/courtlistener; docs/search.md cites it):

- ``SearchV4ViewSet.list``: an invalid ``SearchForm`` is a 400 with the form's errors
  (``{"field": ["message"]}``); unknown parameters are ignored, as a Django form does;
- ``ESCursorPagination``: 20 hits a page (``SEARCH_API_PAGE_SIZE``), one extra hit
  fetched to know whether a next page exists, ``next``/``previous`` as
  ``?cursor=base64(urlencode({s: search_after..., r: reverse, t: type, d: request
  date, p: page}))``; a cursor that does not decode, or whose type is not the request's,
  is a 404 ``{"detail": "Invalid cursor"}``; ``count`` is exact below 10,000 hits;
  ``r`` adds ``document_count`` (matching child documents);
- ``CursorESList.get_api_query_sorting``: the requested order, then the type's unique
  field descending as tiebreaker; missing dates sort last (Elasticsearch's default);
- the serializers of ``cl/search/api_serializers.py``: field names per type, nested
  ``opinions`` (o), ``recap_documents`` (r: at most 3, ``meta.more_docs`` when more
  match) and ``positions`` (p); ``meta.timestamp`` (index time, UTC) and
  ``meta.date_created``; main hits add ``meta.score.bm25``.

What is simplified (Elasticsearch itself cannot run here): ``q`` matches when every
term (quoted phrases kept whole, ``AND`` ignored, ``OR`` between terms) occurs,
case-insensitively, in the hit's text; the score is the number of term occurrences.
A hit's index time is the latest ``date_modified`` of the records it is built from, so
editing a record (``Dataset.touch``) moves it. Hits can be held back from the index
(``SearchIndex.hold``) and released later, to play documents indexed late.
"""

from __future__ import annotations

import base64
import functools
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from courtflow.sandbox.query import ApiError
from courtflow.sandbox.records import Row
from courtflow.sandbox.timefmt import from_us

if TYPE_CHECKING:
    from courtflow.sandbox.index import Dataset
    from courtflow.sandbox.views import RequestUrl

PAGE_SIZE = 20  # SEARCH_API_PAGE_SIZE
EXACT_COUNT_LIMIT = 10_000  # ELASTICSEARCH_MAX_RESULT_COUNT
CHILD_HITS = 3  # RECAP_CHILD_HITS_PER_RESULT
TYPES = ("o", "r", "rd", "d", "p", "oa")
ORDER_BY_CHOICES = (  # OPINION_ORDER_BY_CHOICES (cl/search/forms.py)
    "score desc", "dateFiled desc", "dateFiled asc", "citeCount desc", "citeCount asc",
    "dateArgued desc", "dateArgued asc", "entry_date_filed desc", "entry_date_filed asc",
    "name_reverse asc", "dob desc,name_reverse asc", "dob asc,name_reverse asc",
    "dod desc,name_reverse asc",
)  # fmt: skip
DEFAULT_ORDER = {"o": "score desc", "oa": "dateArgued desc", "p": "name_reverse asc"}
UNIQUE = {"o": "cluster_id", "r": "docket_id", "d": "docket_id", "rd": "id", "p": "id", "oa": "id"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%m/%d/%Y")  # a subset of INPUT_FORMATS
_MISSING_LAST = 9223372036854775807  # Long.MAX_VALUE: Elasticsearch's "_last" for asc
_MISSING_FIRST = -9223372036854775808
INVALID_CURSOR = {"detail": "Invalid cursor"}


@dataclass
class Doc:
    """One indexed document: what filters, sorting and the serializer need."""

    id: int
    record: dict[str, Any]  # the serialized hit, without meta and children
    text: str  # lower-cased, for q
    values: dict[str, Any]  # filterable values (court, dateFiled, case_name, ...)
    timestamp: int  # index time, microseconds
    created: int | None
    children: list[Doc] = field(default_factory=list)


# -- documents built from the sandbox's records ------------------------------------------


def _day(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return str(value)[:10]


def _ts(micros: int) -> str:
    # TimeStampField(default_timezone=UTC) -> DRF DateTimeField: ISO 8601 with Z.
    return from_us(micros).astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Builder:
    def __init__(self, data: Dataset) -> None:
        self.data = data

    def rows(self, resource: str) -> Iterable[Row]:
        table = self.data.table(resource)
        for slot in range(len(table)):
            yield table.row(slot)

    def row(self, resource: str, key: Any) -> Row | None:
        if key is None:
            return None
        return self.data.row_by_key(resource, key)

    def court_id(self, docket: Row | None) -> str | None:
        return None if docket is None else docket.fields.get("court")

    def court_citation(self, court_id: str | None) -> str | None:
        court = None if court_id is None else self.data.courts.get(str(court_id))
        return None if court is None else court.row.fields.get("citation_string")

    def docket_values(self, d: Row) -> tuple[dict[str, Any], str]:
        f = d.fields
        court = f.get("court")
        record = {
            "assignedTo": f.get("assigned_to_str") or None,
            "assigned_to_id": f.get("assigned_to"), "attorney": [], "attorney_id": [],
            "caseName": f.get("case_name", ""), "case_name_full": f.get("case_name_full", ""),
            "cause": f.get("cause", ""), "chapter": None, "court": self._court_name(court),
            "court_citation_string": self.court_citation(court), "court_id": court,
            "dateArgued": _day(f.get("date_argued")), "dateFiled": _day(f.get("date_filed")),
            "dateTerminated": _day(f.get("date_terminated")),
            "docketNumber": f.get("docket_number", ""),
            "docket_absolute_url": f"/docket/{d.id}/{f.get('slug', '')}/", "docket_id": d.id,
            "firm": [], "firm_id": [], "jurisdictionType": f.get("jurisdiction_type", ""),
            "juryDemand": f.get("jury_demand", ""), "pacer_case_id": f.get("pacer_case_id"),
            "party": [], "party_id": [], "referredTo": f.get("referred_to_str") or None,
            "referred_to_id": f.get("referred_to"), "suitNature": f.get("nature_of_suit", ""),
            "trustee_str": None,
        }  # fmt: skip
        text = " ".join(str(record[k] or "") for k in (
            "caseName", "case_name_full", "docketNumber", "cause", "suitNature", "assignedTo",
        ))  # fmt: skip
        return record, text

    def _court_name(self, court_id: str | None) -> str | None:
        court = None if court_id is None else self.data.courts.get(str(court_id))
        return None if court is None else court.row.fields.get("full_name")

    def recap_document(self, rd: Row, entry: Row | None, docket: Row | None) -> Doc:
        f = rd.fields
        e = entry.fields if entry is not None else {}
        record = {
            "absolute_url": f"/docket/{docket.id if docket else ''}/"
                            f"{f.get('document_number', '')}/",
            "attachment_number": f.get("attachment_number"), "cites": [],
            "description": e.get("description", ""), "docket_child": None,
            "docket_entry_id": None if entry is None else entry.id,
            "document_number": f.get("document_number"),
            "document_type": "Main Document" if f.get("document_type", 1) == 1
            else "Attachment", "entry_date_filed": _day(e.get("date_filed")),
            "entry_number": e.get("entry_number"), "filepath_local": f.get("filepath_local"),
            "id": rd.id, "is_available": bool(f.get("is_available")),
            "pacer_doc_id": f.get("pacer_doc_id"), "page_count": f.get("page_count"),
            "short_description": f.get("description", ""),
            "snippet": str(f.get("plain_text") or "")[:500],
        }  # fmt: skip
        text = " ".join(str(x or "") for x in (
            e.get("description"), f.get("description"), f.get("plain_text"),
        ))  # fmt: skip
        values = {
            "entry_date_filed": record["entry_date_filed"],
            "description": f"{e.get('description', '')} {f.get('description', '')}",
            "document_number": str(f.get("document_number") or ""),
            "attachment_number": str(f.get("attachment_number") or ""),
            "available": bool(f.get("is_available")),
        }
        stamps = [rd.date_modified] + ([entry.date_modified] if entry is not None else [])
        return Doc(rd.id, record, text.lower(), values, max(stamps), rd.date_created)

    def docket_documents(self, docket: Row) -> list[Doc]:
        entries = self.data.reverse_keys("docket-entries", "docket").get(str(docket.id), ())
        out: list[Doc] = []
        for entry_id in sorted(entries):
            entry = self.row("docket-entries", entry_id)
            if entry is None:
                continue
            for rd_id in entry.fields.get("recap_documents") or ():
                rd = self.row("recap-documents", rd_id)
                if rd is not None:
                    out.append(self.recap_document(rd, entry, docket))
        return out

    def dockets(self, with_children: bool) -> list[Doc]:
        docs = []
        for d in self.rows("dockets"):
            record, text = self.docket_values(d)
            children = self.docket_documents(d)
            values = _docket_filter_values(record)
            stamps = [d.date_modified] + ([c.timestamp for c in children] if with_children else [])
            doc = Doc(d.id, record, text.lower(), values, max(stamps), d.date_created,
                      children if with_children else [])  # fmt: skip
            docs.append(doc)
        return docs

    def recap_documents(self) -> list[Doc]:
        docs = []
        for rd in self.rows("recap-documents"):
            entry = self.row("docket-entries", rd.fields.get("docket_entry"))
            docket = None if entry is None else self.row("dockets", entry.fields.get("docket"))
            doc = self.recap_document(rd, entry, docket)
            if docket is not None:
                record, text = self.docket_values(docket)
                doc.values.update(_docket_filter_values(record))
                doc.text += " " + text.lower()
                doc.timestamp = max(doc.timestamp, docket.date_modified)
            doc.record["docket_id"] = None if docket is None else docket.id
            doc.values["dateFiled"] = None if docket is None else _day(
                docket.fields.get("date_filed"))
            docs.append(doc)
        return docs

    def clusters(self) -> list[Doc]:
        docs = []
        for c in self.rows("clusters"):
            f = c.fields
            docket = self.row("dockets", f.get("docket"))
            court = self.court_id(docket)
            df = docket.fields if docket is not None else {}
            cites = [f"{x.get('volume')} {x.get('reporter')} {x.get('page')}"
                     for x in f.get("citations") or ()]  # fmt: skip
            record = {
                "absolute_url": f"/opinion/{c.id}/{f.get('slug', '')}/",
                "attorney": f.get("attorneys", ""), "caseName": f.get("case_name", ""),
                "caseNameFull": f.get("case_name_full", ""), "citation": cites,
                "citeCount": f.get("citation_count", 0), "cluster_id": c.id,
                "court": self._court_name(court), "court_citation_string":
                self.court_citation(court), "court_id": court, "court_jurisdiction": None,
                "dateArgued": _day(df.get("date_argued")), "dateFiled": _day(f.get("date_filed")),
                "dateReargued": _day(df.get("date_reargued")),
                "dateReargumentDenied": _day(df.get("date_reargument_denied")),
                "docketNumber": df.get("docket_number", ""), "docket_id": f.get("docket"),
                "judge": f.get("judges", ""), "lexisCite": "", "neutralCite": "",
                "non_participating_judge_ids": list(f.get("non_participating_judges") or []),
                "panel_ids": list(f.get("panel") or []), "panel_names": [],
                "posture": f.get("posture", ""),
                "procedural_history": f.get("procedural_history", ""),
                "scdb_id": f.get("scdb_id", ""), "sibling_ids": list(f.get("sub_opinions") or []),
                "source": f.get("source", ""), "status": f.get("precedential_status", ""),
                "suitNature": f.get("nature_of_suit", ""), "syllabus": f.get("syllabus", ""),
            }  # fmt: skip
            children = [
                doc for doc in (self.opinion(oid) for oid in f.get("sub_opinions") or ())
                if doc is not None
            ]
            text = " ".join(str(x or "") for x in (
                record["caseName"], record["caseNameFull"], record["judge"],
                record["docketNumber"], record["syllabus"], record["procedural_history"],
                record["posture"], " ".join(cites),
            )) + " " + " ".join(child.text for child in children)  # fmt: skip
            values = {
                "court": court, "dateFiled": record["dateFiled"], "case_name": record["caseName"],
                "judge": record["judge"], "docket_number": record["docketNumber"],
                "cited": int(record["citeCount"] or 0), "status": record["status"],
                "citation": " ".join(cites), "nature_of_suit": record["suitNature"],
            }
            stamps = [c.date_modified] + [child.timestamp for child in children]
            if docket is not None:
                stamps.append(docket.date_modified)
            docs.append(Doc(c.id, record, text.lower(), values, max(stamps), c.date_created,
                            children))  # fmt: skip
        return docs

    def opinion(self, key: Any) -> Doc | None:
        o = self.row("opinions", key)
        if o is None:
            return None
        f = o.fields
        record = {
            "author_id": f.get("author"), "cites": list(f.get("opinions_cited") or []),
            "download_url": f.get("download_url"), "id": o.id,
            "joined_by_ids": list(f.get("joined_by") or []),
            "local_path": f.get("local_path") or None, "ordering_key": f.get("ordering_key"),
            "per_curiam": bool(f.get("per_curiam")), "sha1": f.get("sha1", ""),
            "snippet": str(f.get("plain_text") or "")[:500], "type": f.get("type"),
        }  # fmt: skip
        return Doc(o.id, record, str(f.get("plain_text") or "").lower(), {}, o.date_modified,
                   o.date_created)  # fmt: skip

    def people(self) -> list[Doc]:
        positions = self.data.reverse_keys("positions", "person")
        docs = []
        for p in self.rows("people"):
            f = p.fields
            name = " ".join(str(f.get(k) or "") for k in (
                "name_first", "name_middle", "name_last", "name_suffix")).split()  # fmt: skip
            children = [
                self.position(pos) for pos in
                (self.row("positions", k) for k in sorted(positions.get(str(p.id), ())))
                if pos is not None
            ]  # fmt: skip
            record = {
                "aba_rating": [], "absolute_url": f"/person/{p.id}/{f.get('slug', '')}/",
                "alias": [], "alias_ids": [], "date_granularity_dob":
                f.get("date_granularity_dob", ""), "date_granularity_dod":
                f.get("date_granularity_dod", ""), "dob": _day(f.get("date_dob")),
                "dob_city": f.get("dob_city", ""), "dob_state": f.get("dob_state", ""),
                "dob_state_id": f.get("dob_state", ""), "dod": _day(f.get("date_dod")),
                "fjc_id": str(f.get("fjc_id") or ""), "gender": f.get("gender", ""),
                "id": p.id, "name": " ".join(name), "political_affiliation": [],
                "political_affiliation_id": [], "races": list(f.get("race") or []),
                "religion": f.get("religion", ""), "school": [],
            }  # fmt: skip
            values = {
                "name": record["name"], "dob": record["dob"], "dod": record["dod"],
                "dob_city": record["dob_city"], "dob_state": record["dob_state"],
                "name_reverse": f"{f.get('name_last', '')}, {f.get('name_first', '')}",
                "court": " ".join(str(c.values.get("court") or "") for c in children),
            }
            stamps = [p.date_modified] + [c.timestamp for c in children]
            text = record["name"] + " " + " ".join(c.text for c in children)
            docs.append(Doc(p.id, record, text.lower(), values, max(stamps), p.date_created,
                            children))  # fmt: skip
        return docs

    def position(self, pos: Row) -> Doc:
        f = pos.fields
        court = f.get("court")
        record = {
            "appointer": None, "court": self._court_name(court),
            "court_citation_string": self.court_citation(court), "court_exact": court,
            "court_full_name": self._court_name(court),
            **{k: _day(f.get(k)) for k in (
                "date_confirmation", "date_elected", "date_hearing",
                "date_judicial_committee_action", "date_nominated", "date_recess_appointment",
                "date_referred_to_judicial_committee", "date_retirement", "date_start",
                "date_termination")},
            "date_granularity_start": f.get("date_granularity_start", ""),
            "date_granularity_termination": f.get("date_granularity_termination", ""),
            "job_title": f.get("job_title", ""),
            "judicial_committee_action": f.get("judicial_committee_action", ""),
            "nomination_process": f.get("nomination_process", ""),
            "organization_name": f.get("organization_name", ""),
            "position_type": f.get("position_type", ""), "predecessor": None,
            "selection_method": f.get("how_selected", ""),
            "selection_method_id": f.get("how_selected", ""), "supervisor": None,
            "termination_reason": f.get("termination_reason", ""),
        }  # fmt: skip
        return Doc(pos.id, record, str(record["job_title"]).lower(), {"court": court},
                   pos.date_modified, pos.date_created)  # fmt: skip

    def audio(self) -> list[Doc]:
        docs = []
        for a in self.rows("audio"):
            f = a.fields
            docket = self.row("dockets", f.get("docket"))
            df = docket.fields if docket is not None else {}
            court = self.court_id(docket)
            record = {
                "absolute_url": f"/audio/{a.id}/{f.get('case_name_short', '')}/".lower(),
                "caseName": f.get("case_name", ""), "case_name_full": f.get("case_name_full", ""),
                "court": self._court_name(court), "court_citation_string":
                self.court_citation(court), "court_id": court,
                "dateArgued": _day(df.get("date_argued")),
                "dateReargued": _day(df.get("date_reargued")),
                "dateReargumentDenied": _day(df.get("date_reargument_denied")),
                "docketNumber": df.get("docket_number", ""), "docket_id": f.get("docket"),
                "download_url": f.get("download_url"), "duration": f.get("duration"),
                "file_size_mp3": None, "id": a.id, "judge": f.get("judges", ""),
                "local_path": f.get("local_path_mp3") or None,
                "pacer_case_id": df.get("pacer_case_id"), "panel_ids": list(f.get("panel") or []),
                "sha1": f.get("sha1", ""), "snippet": str(f.get("stt_transcript") or "")[:500],
                "source": f.get("source", ""),
            }  # fmt: skip
            text = " ".join(str(x or "") for x in (
                record["caseName"], record["judge"], record["docketNumber"],
                f.get("stt_transcript"),
            ))  # fmt: skip
            values = {
                "court": court, "dateArgued": record["dateArgued"],
                "case_name": record["caseName"], "judge": record["judge"],
                "docket_number": record["docketNumber"],
            }
            stamps = [a.date_modified] + ([docket.date_modified] if docket is not None else [])
            docs.append(Doc(a.id, record, text.lower(), values, max(stamps), a.date_created))
        return docs


def _docket_filter_values(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "court": record["court_id"], "dateFiled": record["dateFiled"],
        "case_name": record["caseName"], "docket_number": record["docketNumber"],
        "nature_of_suit": record["suitNature"], "cause": record["cause"],
        "assigned_to": record["assignedTo"] or "", "referred_to": record["referredTo"] or "",
    }  # fmt: skip


# -- the index: documents per type, rebuilt when the dataset changes -----------------------


class SearchIndex:
    """Documents per type, built on first use and again after the dataset changed."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self._lock = threading.Lock()
        self._built: dict[str, tuple[int, list[Doc]]] = {}
        self._held: dict[str, set[int]] = {}

    def hold(self, type_code: str, ids: Iterable[int]) -> None:
        """Keep hits out of the index until :meth:`release` (a document indexed late)."""
        with self._lock:
            self._held.setdefault(type_code, set()).update(int(i) for i in ids)

    def release(self, type_code: str, ids: Iterable[int] | None = None) -> None:
        with self._lock:
            held = self._held.setdefault(type_code, set())
            if ids is None:
                held.clear()
            else:
                held.difference_update(int(i) for i in ids)

    def docs(self, type_code: str) -> list[Doc]:
        with self._lock:
            revision = self.data.revision
            built = self._built.get(type_code)
            if built is None or built[0] != revision:
                with self.data.lock:
                    docs = _build(_Builder(self.data), type_code)
                built = (revision, docs)
                self._built[type_code] = built
            held = set(self._held.get(type_code, ()))
        return [d for d in built[1] if d.id not in held]


def _build(builder: _Builder, type_code: str) -> list[Doc]:
    if type_code == "o":
        return builder.clusters()
    if type_code in ("r", "d"):
        return builder.dockets(with_children=type_code == "r")
    if type_code == "rd":
        return builder.recap_documents()
    if type_code == "p":
        return builder.people()
    return builder.audio()


# -- the form ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    type: str
    q: str
    order_by: str
    values: dict[str, str]
    courts: tuple[str, ...]
    statuses: tuple[str, ...]


def _choice_error(value: str) -> list[str]:
    return [f"Select a valid choice. {value} is not one of the available choices."]


def parse_form(params: Sequence[tuple[str, str]]) -> Form:
    """SearchForm: last value wins per name (QueryDict.get); errors as a 400 body."""
    raw = dict(params)
    errors: dict[str, list[str]] = {}
    type_code = raw.get("type", "").strip() or "o"
    if type_code not in (*TYPES, "pa"):
        errors["type"] = _choice_error(type_code)
    order_by = raw.get("order_by", "").strip()
    if order_by and order_by not in ORDER_BY_CHOICES and not order_by.startswith("random_"):
        errors["order_by"] = _choice_error(order_by)
    for name in ("cited_gt", "cited_lt"):
        value = raw.get(name, "").strip()
        if value and not re.fullmatch(r"[+-]?\d+", value):
            errors[name] = ["Enter a whole number."]
    for name in ("filed", "argued", "entry_date_filed", "born"):
        for end in ("after", "before"):
            key = f"{name}_{end}"
            value = raw.get(key, "").strip()
            if value and _parse_date(value) is None:
                errors[key] = ["Enter a valid date."]
    if errors:
        raise ApiError(400, errors)
    if type_code == "pa":
        raise ApiError(404, {"detail": "Search type not found or not supported."})
    values = {k: v.strip() for k, v in raw.items() if v.strip()}
    court_text = values.get("court", "")
    courts = [c for c in re.split(r"[ ,]", court_text) if c]
    courts += [k[6:] for k, v in values.items() if k.startswith("court_") and v]
    statuses = tuple(k[5:] for k, v in values.items() if k.startswith("stat_") and v)
    return Form(
        type=type_code,
        q=values.get("q", ""),
        order_by=order_by or DEFAULT_ORDER.get(type_code, order_by),
        values=values,
        courts=tuple(courts),
        statuses=statuses or ("Published",),  # SearchForm.clean: no status -> Published
    )


def _parse_date(text: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# -- matching ------------------------------------------------------------------------------

_TERM = re.compile(r'"([^"]*)"|(\S+)')


def _query_groups(q: str) -> list[list[str]]:
    """AND of OR-groups of terms: ``a b OR c "d e"`` -> [[a], [b, c], [d e]]."""
    groups: list[list[str]] = []
    pending_or = False
    for phrase, word in _TERM.findall(q):
        term = (phrase or word).strip().lower()
        if word in ("AND", "&&") or not term:
            continue
        if word in ("OR", "||"):
            pending_or = bool(groups)
            continue
        term = term.strip("()")
        if not term:
            continue
        if pending_or:
            groups[-1].append(term)
        else:
            groups.append([term])
        pending_or = False
    return groups


def _q_score(text: str, groups: list[list[str]]) -> float | None:
    score = 0.0
    for group in groups:
        hits = sum(text.count(term) for term in group)
        if hits == 0:
            return None
        score += hits
    return score


def _in_range(value: str | None, after: str, before: str) -> bool:
    if not after and not before:
        return True
    if value is None:
        return False
    day = date.fromisoformat(value)
    low, high = _parse_date(after) if after else None, _parse_date(before) if before else None
    if low and high and high < low:  # SearchForm.clean swaps reversed ranges
        low, high = high, low
    return (low is None or day >= low) and (high is None or day <= high)


def _contains(value: Any, wanted: str) -> bool:
    return wanted.lower() in str(value or "").lower()


def _child_filters(form: Form) -> dict[str, str]:
    return {k: form.values[k] for k in (
        "description", "document_number", "attachment_number", "available_only",
        "entry_date_filed_after", "entry_date_filed_before",
    ) if k in form.values}  # fmt: skip


def _child_matches(child: Doc, form: Form, groups: list[list[str]] | None) -> bool:
    v, f = child.values, form.values
    if not _in_range(v.get("entry_date_filed"), f.get("entry_date_filed_after", ""),
                     f.get("entry_date_filed_before", "")):  # fmt: skip
        return False
    if "description" in f and not _contains(v.get("description"), f["description"]):
        return False
    for name in ("document_number", "attachment_number"):
        if name in f and str(v.get(name) or "") != f[name]:
            return False
    if f.get("available_only") and not v.get("available"):
        return False
    return groups is None or _q_score(child.text, groups) is not None


def _matches(doc: Doc, form: Form, groups: list[list[str]]) -> tuple[float, list[Doc]] | None:
    """(score, matching children) or None."""
    v, f = doc.values, form.values
    t = form.type
    if form.courts and str(v.get("court") or "") not in form.courts and not (
        t == "p" and any(c in str(v.get("court") or "").split() for c in form.courts)
    ):
        return None
    date_field = {"o": "dateFiled", "r": "dateFiled", "d": "dateFiled", "rd": "dateFiled",
                  "oa": "dateArgued", "p": "dob"}[t]  # fmt: skip
    prefix = {"oa": "argued", "p": "born"}.get(t, "filed")
    if not _in_range(v.get(date_field), f.get(f"{prefix}_after", ""),
                     f.get(f"{prefix}_before", "")):  # fmt: skip
        return None
    for name in ("case_name", "judge", "docket_number", "nature_of_suit", "cause",
                 "assigned_to", "referred_to", "name", "dob_city", "citation"):  # fmt: skip
        if name in f and name in v and not _contains(v[name], f[name]):
            return None
    if "dob_state" in f and t == "p" and str(v.get("dob_state")) != f["dob_state"]:
        return None
    if t == "o":
        if v.get("status") not in form.statuses:
            return None
        if "cited_gt" in f and not v["cited"] >= int(f["cited_gt"]):
            return None
        if "cited_lt" in f and not v["cited"] <= int(f["cited_lt"]):
            return None
    if t == "rd" and not _child_matches(doc, form, None):
        return None
    score = _q_score(doc.text, groups) if groups else 1.0
    children = doc.children
    if t == "r":
        child_filters = _child_filters(form)
        if child_filters or groups:
            wanted = [c for c in children if _child_matches(c, form, groups or None)]
            if child_filters and not wanted:
                return None
            if score is None and not wanted:
                return None
            children = wanted if (child_filters or (groups and wanted)) else children
            score = (score or 0.0) + len(wanted)
    if score is None:
        return None
    return score, children


# -- sorting and the cursor ---------------------------------------------------------------


def _epoch_ms(day: str | None) -> int | None:
    if day is None:
        return None
    d = date.fromisoformat(day)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def _sort_keys(form: Form) -> list[tuple[str, bool]]:
    """(field, descending) pairs: the requested order, then the unique tiebreaker."""
    keys: list[tuple[str, bool]] = []
    for part in form.order_by.split(","):
        name, _, direction = part.strip().partition(" ")
        keys.append((name, direction.strip() == "desc"))
    keys.append((UNIQUE[form.type], True))
    return keys


def _value(doc: Doc, score: float, name: str, descending: bool) -> Any:
    if name == "score" or name.startswith("random_"):
        return score
    if name in ("cluster_id", "docket_id", "id"):
        return doc.id
    if name == "citeCount":
        return int(doc.record.get("citeCount") or 0)
    if name == "name_reverse":
        return str(doc.values.get("name_reverse") or "")
    if name == "entry_date_filed" and doc.children and form_type_is_docket(doc):
        days = [c.values.get("entry_date_filed") for c in doc.children]
        present = [d for d in days if d]
        day = (max(present) if descending else min(present)) if present else None
    else:
        day = doc.values.get(name, doc.record.get(name))
    ms = _epoch_ms(day) if isinstance(day, str) or day is None else None
    if ms is None:
        return _MISSING_FIRST if descending else _MISSING_LAST
    return ms


def form_type_is_docket(doc: Doc) -> bool:
    return "docket_absolute_url" in doc.record


def _compare(a: Sequence[Any], b: Sequence[Any], keys: Sequence[tuple[str, bool]]) -> int:
    for x, y, (_, descending) in zip(a, b, keys, strict=False):
        if x == y:
            continue
        less = x < y
        return (1 if less else -1) if descending else (-1 if less else 1)
    return 0


def _coerce(values: Sequence[str], like: Sequence[Any]) -> list[Any] | None:
    out: list[Any] = []
    for raw, sample in zip(values, like, strict=False):
        try:
            out.append(type(sample)(raw))
        except (TypeError, ValueError):
            return None
    return out


@dataclass(frozen=True)
class Cursor:
    search_after: tuple[str, ...] | None
    reverse: bool
    type: str | None
    request_date: str | None
    page: int


def decode_cursor(encoded: str, type_code: str) -> Cursor:
    """ESCursorPagination.decode_cursor: anything that does not decode is a 404."""
    try:
        text = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
        tokens = parse_qs(text, keep_blank_values=True)
        search_after = tokens.get("s")
        reverse = bool(int(tokens.get("r", ["0"])[0]))
        cursor_type = tokens.get("t", [None])[0]
        request_date = tokens.get("d", [None])[0]
        page = int(tokens.get("p", ["0"])[0])
        if request_date:
            date.fromisoformat(request_date)
    except (TypeError, ValueError, UnicodeError):
        raise ApiError(404, INVALID_CURSOR) from None
    if cursor_type != type_code:
        raise ApiError(404, INVALID_CURSOR)
    return Cursor(tuple(search_after) if search_after else None, reverse, cursor_type,
                  request_date, page)  # fmt: skip


def encode_cursor(cursor: Cursor) -> str:
    tokens: list[tuple[str, Any]] = []
    if cursor.search_after:
        tokens += [("s", v) for v in cursor.search_after]
    if cursor.reverse:
        tokens.append(("r", "1"))
    if cursor.type:
        tokens.append(("t", cursor.type))
    if cursor.request_date:
        tokens.append(("d", cursor.request_date))
    if cursor.page:
        tokens.append(("p", cursor.page))
    return base64.b64encode(urlencode(tokens).encode("ascii")).decode("ascii")


# -- the view --------------------------------------------------------------------------------


def search_view(
    index: SearchIndex, url: RequestUrl, now: Callable[[], datetime] | None = None
) -> dict[str, Any]:
    """The body of ``GET search/`` (ApiError for 400/404)."""
    form = parse_form(url.params)
    raw_cursor = dict(url.params).get("cursor")
    cursor = decode_cursor(raw_cursor, form.type) if raw_cursor is not None else None
    groups = _query_groups(form.q)
    keys = _sort_keys(form)
    hits: list[tuple[list[Any], Doc, float, list[Doc]]] = []
    for doc in index.docs(form.type):
        matched = _matches(doc, form, groups)
        if matched is None:
            continue
        score, children = matched
        sort = [_value(doc, score, name, desc) for name, desc in keys]
        hits.append((sort, doc, score, children))
    Entry = tuple[list[Any], Doc, float, list[Doc]]

    def order(a: Entry, b: Entry) -> int:
        return _compare(a[0], b[0], keys)

    hits.sort(key=functools.cmp_to_key(order))
    total = len(hits)
    reverse = cursor.reverse if cursor else False
    if cursor is None or not cursor.search_after:
        page_hits, has_more = hits[:PAGE_SIZE], total > PAGE_SIZE
    else:
        like: list[Any] = hits[0][0] if hits else [0] * len(keys)
        after = _coerce(cursor.search_after, like)
        if after is None:
            raise ApiError(404, INVALID_CURSOR)
        if reverse:
            # The hits before the key, nearest last (the server sorts toggled, then flips).
            before = [h for h in hits if _compare(h[0], after, keys) < 0]
            page_hits, has_more = before[-PAGE_SIZE:], len(before) > PAGE_SIZE
        else:
            rest = [h for h in hits if _compare(h[0], after, keys) > 0]
            page_hits, has_more = rest[:PAGE_SIZE], len(rest) > PAGE_SIZE
    request_date = (cursor.request_date if cursor and cursor.request_date
                    else (now() if now else datetime.now(UTC)).date().isoformat())  # fmt: skip
    page = cursor.page if cursor else 1
    next_url = previous_url = None
    if page_hits and (has_more if not reverse else True):
        nxt = Cursor(tuple(str(v) for v in page_hits[-1][0]), False, form.type, request_date,
                     page + 1)  # fmt: skip
        next_url = url.with_param("cursor", encode_cursor(nxt))
    has_prev = cursor is not None and page != 1 and (has_more if reverse else True)
    if page_hits and has_prev:
        prev = Cursor(tuple(str(v) for v in page_hits[0][0]), True, form.type, request_date,
                      (page - 1) or 1)  # fmt: skip
        previous_url = url.with_param("cursor", encode_cursor(prev))
    results = [_serialize(form, doc, score, children) for _, doc, score, children in page_hits]
    # Exact here: the sandbox never reaches EXACT_COUNT_LIMIT, where the server's count
    # becomes a cardinality estimate.
    body: dict[str, Any] = {"count": total}
    if form.type == "r":
        body["document_count"] = sum(len(c) for _, _, _, c in hits)
    body.update({"next": next_url, "previous": previous_url, "results": results})
    return body


def _meta(doc: Doc, score: float | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "timestamp": _ts(doc.timestamp),
        "date_created": None if doc.created is None else _ts(doc.created),
    }
    if score is not None:
        meta["score"] = {"bm25": score}
    return meta


def _serialize(form: Form, doc: Doc, score: float, children: list[Doc]) -> dict[str, Any]:
    out = dict(doc.record)
    if form.type == "o":
        out["opinions"] = [{**c.record, "meta": _meta(c, None)} for c in children]
    elif form.type == "r":
        shown = children[:CHILD_HITS]
        out["recap_documents"] = [{**c.record, "meta": _meta(c, None)} for c in shown]
        meta = _meta(doc, score)
        meta["more_docs"] = len(children) > CHILD_HITS
        out["meta"] = meta
        return out
    elif form.type == "p":
        out["positions"] = [{**c.record, "meta": _meta(c, None)} for c in children]
    out["meta"] = _meta(doc, score)
    return out
