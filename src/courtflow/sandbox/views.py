"""What each endpoint answers, independent of HTTP plumbing: (status, body, headers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from courtflow.catalogue.resources import RESOURCES as CATALOGUE
from courtflow.sandbox import cursor as cursors
from courtflow.sandbox.filtering import Model
from courtflow.sandbox.index import Dataset, Stamp, Table
from courtflow.sandbox.pages import count, cursor_page, number_page, whole_page
from courtflow.sandbox.query import PAGE_SIZE, ApiError, ListQuery, parse_list_query
from courtflow.sandbox.records import Links, Row, dumps, select_fields
from courtflow.sandbox.search import search_view
from courtflow.sandbox.shapes import NESTING

RESOURCES = tuple(CATALOGUE)  # every endpoint of courtflow's catalogue
SEARCH = "search"  # search/ (v4): courtflow.sandbox.search
NOT_FOUND = {"detail": "Not found."}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None
    headers: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = None  # an already encoded body (list pages)

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else dumps(self.body)


@dataclass(frozen=True)
class RequestUrl:
    """The absolute URL called, to build ``next``/``previous``/``count`` links from."""

    origin: str  # "http://host:port"
    path: str
    params: tuple[tuple[str, str], ...]

    def with_param(self, name: str, value: str | None) -> str:
        # DRF's replace_query_param/remove_query_param: parse_qs, then urlencode of the
        # sorted names with doseq, so a repeated parameter (type=010combined&type=020lead)
        # keeps every value, in order, and ``name`` has one.
        kept: dict[str, list[str]] = {}
        for k, v in self.params:
            if k != name:
                kept.setdefault(k, []).append(v)
        if value is not None:
            kept[name] = [value]
        query = urlencode(sorted(kept.items()), doseq=True)
        return f"{self.origin}{self.path}" + (f"?{query}" if query else "")


def root(links: Links) -> Answer:
    names = (*RESOURCES, SEARCH, "api-usage")
    return Answer(200, {name: f"{links.base}{name}/" for name in names})


def list_view(data: Dataset, resource: str, url: RequestUrl, links: Links) -> Answer:
    if resource == SEARCH:
        return Answer(200, search_view(data.search, url))
    query = parse_list_query(resource, url.params)
    if resource == "courts":
        return _courts(data, query, url, links)
    table = data.table(resource)
    with data.lock:
        if query.count:
            return Answer(200, {"count": count(table, query)})
        if query.cursor_mode:
            page = cursor_page(table, query)
            stamps = [table.stamp(s) for s in page.slots]
        else:
            numbered = number_page(table, query)
            stamps = [table.stamp(s) for s in numbered.slots]
    results = _encoded(data, table, stamps, links, query)
    if query.cursor_mode:
        envelope = {
            "count": url.with_param("count", "on"),
            "next": url.with_param("cursor", cursors.encode(page.next)) if page.next else None,
            "previous": url.with_param("cursor", cursors.encode(page.previous))
            if page.previous
            else None,
        }
    else:
        envelope = _numbered(url, numbered.number, numbered.count, numbered.has_next)
    return _page(envelope, results)


def _page(envelope: dict[str, Any], results: list[bytes]) -> Answer:
    # Records are encoded once and cached; the page is spliced around them.
    raw = dumps(envelope)[:-1] + b',"results":[' + b",".join(results) + b"]}"
    return Answer(200, None, raw=raw)


def _encoded(
    data: Dataset, table: Table, stamps: Sequence[Stamp], links: Links, query: ListQuery
) -> list[bytes]:
    resource = table.name
    # A docket entry nests other records, whose revisions its key would not show.
    cache = None if resource in NESTING else data.encoded
    out = []
    for stamp in stamps:
        key = (resource, stamp.id, stamp.version, links.base, query.fields, query.omit)
        blob = None if cache is None else cache.get(key)
        if blob is None:
            blob = dumps(_render(data, resource, [table.row_of(stamp)], links, query)[0])
            if cache is not None:
                cache.put(key, blob)
        out.append(blob)
    return out


def detail_view(data: Dataset, resource: str, key: str, url: RequestUrl, links: Links) -> Answer:
    if resource == SEARCH:
        return Answer(404, NOT_FOUND)
    query = parse_list_query(resource, url.params)
    if resource == "courts":
        with data.lock:
            court = data.courts.get(key)
            row = None if court is None else data.courts.row(court)
    else:
        if not key.isdigit():
            return Answer(404, NOT_FOUND)
        record_id = int(key)
        if resource == "clusters" and record_id in data.merged_clusters:
            target = links.to("clusters", data.merged_clusters[record_id]) or ""
            return Answer(301, None, (("Location", target),))
        if resource == "clusters" and record_id in data.sealed_clusters:
            return Answer(410, {"detail": "This item has been removed (sealed)."})
        table = data.table(resource)
        with data.lock:
            slot = table.slot(record_id)
            row = None if slot is None else table.row(slot)
    if row is None:
        return Answer(404, NOT_FOUND)
    return Answer(200, _render(data, resource, [row], links, query)[0])


def _render(
    data: Dataset, resource: str, rows: Sequence[Row], links: Links, query: ListQuery
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        record = data.render(resource, row, links)
        if query.fields or query.omit:
            record = select_fields(record, query.fields, query.omit)
        out.append(record)
    return out


def _numbered(url: RequestUrl, number: int, total: int, has_next: bool) -> dict[str, Any]:
    previous = None
    if number > 1:
        previous = url.with_param("page", None if number == 2 else str(number - 1))
    return {
        "count": total,
        "next": url.with_param("page", str(number + 1)) if has_next else None,
        "previous": previous,
    }


_COURT_ORDERINGS = ("id", "date_modified", "position", "start_date", "end_date")


def _courts(data: Dataset, query: ListQuery, url: RequestUrl, links: Links) -> Answer:
    with data.lock:
        rows = [data.courts.row(c) for c in data.courts.courts]
    for condition in query.conditions:
        rows = [r for r in rows if condition.matches(data, _court_model(r))]
    ordering = query.ordering or "position"
    if ordering.lstrip("-") in _COURT_ORDERINGS and ordering.lstrip("-") != "position":
        field = ordering.lstrip("-")
        rows.sort(key=lambda r: _court_sort_key(r, field), reverse=ordering.startswith("-"))
    elif ordering == "-position":
        rows.reverse()
    if query.count:
        return Answer(200, {"count": len(rows)})
    number = whole_page(query.page, deepest=None)  # courts: no depth limit
    last = max(1, -(-len(rows) // PAGE_SIZE))
    if number > last:
        raise ApiError(404, {"detail": "Invalid page."})
    chosen = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    results = [dumps(r) for r in _render(data, "courts", chosen, links, query)]
    return _page(_numbered(url, number, len(rows), number < last), results)


def _court_sort_key(row: Row, field: str) -> tuple[int, Any, str]:
    if field == "id":
        return (0, str(row.id), str(row.id))
    if field == "date_modified":
        return (0, row.date_modified, str(row.id))
    value = row.fields.get(field)
    return (1 if value is None else 0, value or "", str(row.id))


def _court_model(row: Row) -> Model:
    return Model(row.id, row.date_modified, None, row.fields)
