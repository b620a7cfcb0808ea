"""Upserts of search hits and of the scope's matches (inside the caller's transaction).

A hit row is keyed by the hit's identity, so every scope that finds it writes the same
row. What differs between scopes is kept apart from the row: ``meta.score`` (relevance to
one query) is left out of the stored record, and the nested children (which a query
narrows: the RECAP documents or opinions that matched it) are merged by child id, so
the row holds every child any scope has seen. A row is only replaced by a hit indexed
at the same time or later (``meta.timestamp``): a scope walking an old page cannot
undo a newer one's edit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from courtflow.errors import BadPayloadError
from courtflow.search.form import SearchType
from courtflow.search.tables import HIT_TABLES, search_matches
from courtflow.store.convert import content_hash


@dataclass(frozen=True)
class Hit:
    """One result, split for storage."""

    id: int
    hit_date: date | None
    indexed_at: datetime | None
    date_created: datetime | None
    record: dict[str, Any]
    children: list[dict[str, Any]] | None


@dataclass(frozen=True)
class HitsStored:
    hits: int  # hits on the page
    written: int  # hit rows inserted or changed
    new_matches: int  # hits this scope had not matched before


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def parse_hit(kind: SearchType, result: Mapping[str, Any]) -> Hit:
    """A result as stored; a result without its identity is a broken payload."""
    key = result.get(kind.identity)
    if not isinstance(key, int) or isinstance(key, bool):
        raise BadPayloadError(
            f"search/ type {kind.code}: a result has no integer {kind.identity!r}"
        )
    record = {k: v for k, v in result.items() if k != kind.children}
    meta = dict(record.get("meta") or {})
    meta.pop("score", None)  # relevance to one query, not a fact about the hit
    record["meta"] = meta
    children = result.get(kind.children) if kind.children else None
    if children is not None and not isinstance(children, list):
        raise BadPayloadError(f"search/ type {kind.code}: {kind.children!r} is not a list")
    return Hit(
        id=key,
        hit_date=_date(result.get(kind.date_field)) if kind.date_field else None,
        indexed_at=_instant(meta.get("timestamp")),
        date_created=_instant(meta.get("date_created")),
        record=record,
        children=[dict(c) for c in children] if children is not None else None,
    )


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _merged(old: Sequence[Mapping[str, Any]] | None,
            new: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:  # fmt: skip
    """Children of both, by child id (the newer copy of a child wins), in id order."""
    if old is None and new is None:
        return None
    by_id: dict[Any, dict[str, Any]] = {}
    for child in [*(old or ()), *(new or ())]:
        by_id[child.get("id", repr(sorted(child.items())))] = dict(child)
    return [by_id[k] for k in sorted(by_id, key=lambda k: (str(type(k)), k))]


def _locked_rows(conn: Connection, table: Table, ids: Sequence[int]) -> dict[int, Any]:
    if not ids:
        return {}
    stmt = select(table.c.id, table.c.children, table.c.indexed_at, table.c.content_hash)
    stmt = stmt.where(table.c.id.in_(list(ids))).order_by(table.c.id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {row.id: row for row in conn.execute(stmt)}


def _values(hit: Hit, children: list[dict[str, Any]] | None, run_id: str | None,
            now: datetime) -> dict[str, Any]:  # fmt: skip
    return {
        "id": hit.id, "hit_date": hit.hit_date, "indexed_at": hit.indexed_at,
        "date_created": hit.date_created, "record": hit.record, "children": children,
        "content_hash": content_hash({"record": hit.record, "children": children}),
        "run_id": run_id, "loaded_at": now,
    }  # fmt: skip


def store_hits(
    conn: Connection,
    kind: SearchType,
    scope_key: str,
    results: Sequence[Mapping[str, Any]],
    run_id: str | None,
) -> HitsStored:
    """Upsert one page's hits and this scope's matches of them."""
    now = datetime.now(UTC)
    hits = {h.id: h for h in (parse_hit(kind, r) for r in results)}  # a page repeats no hit
    if not hits:
        return HitsStored(0, 0, 0)
    table = HIT_TABLES[kind.code]
    # Rows of hits already stored, locked (PostgreSQL) so two scopes sharing a hit merge
    # their children one after the other instead of one overwriting the other.
    existing = _locked_rows(conn, table, sorted(hits))
    fresh = [h for i, h in sorted(hits.items()) if i not in existing]
    written = 0
    if fresh:
        values = [_values(h, _merged(None, h.children), run_id, now) for h in fresh]
        stmt = _insert(conn)(table).on_conflict_do_nothing(index_elements=[table.c.id])
        inserted = set(conn.execute(stmt.returning(table.c.id), values).scalars())
        written += len(inserted)
        late = [h.id for h in fresh if h.id not in inserted]  # inserted meanwhile by another
        existing.update(_locked_rows(conn, table, late))
    for hit_id in sorted(existing):
        hit, old = hits[hit_id], existing[hit_id]
        children = _merged(old.children, hit.children)
        row = _values(hit, children, run_id, now)
        if old.content_hash == row["content_hash"]:
            continue
        if old.indexed_at is not None and hit.indexed_at is not None and (
            hit.indexed_at < old.indexed_at
        ):
            continue  # an older copy of the hit: keep the newer one
        conn.execute(update(table).where(table.c.id == hit_id).values(
            {k: v for k, v in row.items() if k != "id"}))  # fmt: skip
        written += 1
    m = search_matches
    known = set(
        conn.execute(
            select(m.c.hit_id).where(
                m.c.type == kind.code, m.c.scope == scope_key, m.c.hit_id.in_(list(hits))
            )
        ).scalars()
    )
    match = _insert(conn)(m)
    match = match.on_conflict_do_update(
        index_elements=[m.c.type, m.c.scope, m.c.hit_id],
        set_={"last_seen": match.excluded.last_seen},
    )
    conn.execute(match, [
        {"type": kind.code, "scope": scope_key, "hit_id": i, "first_run_id": run_id,
         "first_seen": now, "last_seen": now}
        for i in sorted(hits)
    ])  # fmt: skip
    return HitsStored(len(hits), written, len(set(hits) - known))
