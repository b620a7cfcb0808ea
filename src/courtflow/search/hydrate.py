"""``--hydrate``: the database records behind a scope's hits, through the catalogue.

o hits are opinion clusters (``clusters``) with nested opinions (``opinions``); r and d
hits are ``dockets``; rd hits ``recap-documents``; p hits ``people``; oa hits ``audio``.

**Why id ranges.** The list endpoints' filter sets give integer fields the lookups
``exact, gte, gt, lte, lt, range`` (``cl/api/utils.py`` INTEGER_LOOKUPS, read in
courtflow.catalogue.filtersets): there is no ``id__in``. So a set of ids is asked for
either one ``id=`` call per record or as ranges ``id__gte=lo&id__lte=hi``, whose pages
also carry the records between the hits (not stored: hydration stores exactly the hits'
records). Ids are unique, so a range ``[lo, hi]`` holds at most ``hi - lo + 1``
records and costs at most ``ceil((hi - lo + 1) / 20)`` calls. Sorted ids are grouped
greedily while that bound stays at or below the number of ids in the group, so a range
never costs more than one call per record, and ids dense enough (clusters of one
docket, documents of one entry) come 20 to a call. :func:`hydration_plan` gives that
upper bound before any call (``courtflow search plan --hydrate``).

Only records not yet stored are asked for: a rerun spends 0 calls. Keeping stored
records fresh is the catalogue syncs' work (``courtflow sync --resource clusters``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from courtflow.catalogue.resources import ResourceSpec, get_resource
from courtflow.client import CourtListenerClient
from courtflow.search.form import PAGE_SIZE
from courtflow.search.scope import SearchScope
from courtflow.search.tables import HIT_TABLES, search_matches
from courtflow.store.rejects import store_page
from courtflow.store.retry import DbRetryPolicy, run_with_db_retry
from courtflow.store.tables import resource_table

# The records behind each type's hits: the hit itself, and for o its nested opinions.
HIT_RECORDS = {"o": "clusters", "r": "dockets", "d": "dockets", "rd": "recap-documents",
               "p": "people", "oa": "audio"}  # fmt: skip
CHILD_RECORDS = {"o": "opinions"}


@dataclass(frozen=True)
class IdRange:
    low: int
    high: int
    ids: tuple[int, ...]  # the wanted ids inside

    @property
    def max_calls(self) -> int:
        return max(1, math.ceil((self.high - self.low + 1) / PAGE_SIZE))


def id_ranges(ids: Iterable[int]) -> list[IdRange]:
    """Sorted ids grouped into ranges that never cost more than one call per id."""
    out: list[IdRange] = []
    group: list[int] = []
    for i in sorted(set(ids)):
        if group and math.ceil((i - group[0] + 1) / PAGE_SIZE) > len(group) + 1:
            out.append(IdRange(group[0], group[-1], tuple(group)))
            group = []
        group.append(i)
    if group:
        out.append(IdRange(group[0], group[-1], tuple(group)))
    return out


@dataclass(frozen=True)
class HydrationPlan:
    wanted: dict[str, tuple[int, ...]]  # resource -> ids not stored yet
    ranges: dict[str, tuple[IdRange, ...]]

    @property
    def max_calls(self) -> int:
        return sum(r.max_calls for rs in self.ranges.values() for r in rs)

    @property
    def records(self) -> int:
        return sum(len(ids) for ids in self.wanted.values())


def hydration_plan(engine: Engine, scope: SearchScope) -> HydrationPlan:
    """The records behind this scope's stored hits that are not in their tables yet."""
    kind = scope.kind
    hits = HIT_TABLES[kind.code]
    m = search_matches
    with engine.connect() as conn:
        matched = select(m.c.hit_id).where(m.c.type == kind.code, m.c.scope == scope.key)
        rows = conn.execute(
            select(hits.c.id, hits.c.children).where(hits.c.id.in_(matched))
        ).all()
        wanted: dict[str, set[int]] = {HIT_RECORDS[kind.code]: {r.id for r in rows}}
        child = CHILD_RECORDS.get(kind.code)
        if child is not None:
            wanted[child] = {
                int(c["id"]) for r in rows for c in (r.children or ())
                if isinstance(c, dict) and isinstance(c.get("id"), int)
            }  # fmt: skip
        missing: dict[str, tuple[int, ...]] = {}
        for resource, ids in wanted.items():
            table = resource_table(resource)
            have = set(conn.execute(select(table.c.id).where(table.c.id.in_(sorted(ids))))
                       .scalars()) if ids else set()  # fmt: skip
            missing[resource] = tuple(sorted(ids - have))
    return HydrationPlan(missing, {r: tuple(id_ranges(ids)) for r, ids in missing.items()})


@dataclass(frozen=True)
class HydrationResult:
    stored: dict[str, int]
    calls: int
    not_found: dict[str, tuple[int, ...]]  # wanted ids the server did not return


def hydrate(
    engine: Engine,
    client: CourtListenerClient,
    plan: HydrationPlan,
    *,
    run_id: str | None,
    db_retry: DbRetryPolicy | None = None,
) -> HydrationResult:
    """Fetch the planned ranges and store exactly the wanted records."""
    stored: dict[str, int] = {}
    missing: dict[str, tuple[int, ...]] = {}
    calls = 0
    for resource, ranges in plan.ranges.items():
        spec = get_resource(resource)
        got: set[int] = set()
        stored[resource] = 0
        for r in ranges:
            wanted = set(r.ids)
            filters = {"id__gte": str(r.low), "id__lte": str(r.high)}
            for page in client.iter_pages(spec, filters=filters):
                calls += page.attempts
                keep = [rec for rec in page.results if rec.get("id") in wanted]
                got.update(int(rec["id"]) for rec in keep)

                def commit(keep: Sequence[dict[str, object]] = keep, spec: ResourceSpec = spec,
                           url: str = page.url) -> int:
                    with engine.begin() as conn:
                        return store_page(conn, spec, keep, run_id, page_url=url).written

                stored[resource] += run_with_db_retry(engine, commit, db_retry,
                                                      what="hydration commit")  # fmt: skip
        missing[resource] = tuple(sorted(set(plan.wanted[resource]) - got))
    return HydrationResult(stored, calls, missing)
