"""The sandbox's data: compact sorted indexes over fixture and synthetic records.

Per resource only a few ``array('q')`` columns live in memory (ids, two timestamps, two
orderings); record content is produced on demand from the fixtures or the generator.
A listing is a bisect into an ordering plus one page of rows, O(log n + page).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from courtflow.sandbox import fixtures
from courtflow.sandbox.config import SYNTHETIC_RESOURCES, SandboxConfig
from courtflow.sandbox.filtering import Condition, Model, Rows
from courtflow.sandbox.fixtures import FixtureRow
from courtflow.sandbox.records import SERIALIZERS, EncodedCache, Links, Row
from courtflow.sandbox.search import SearchIndex
from courtflow.sandbox.shapes import EMBEDDED, SHAPES
from courtflow.sandbox.synth import (
    SYNTHETIC_BASE_ID,
    Generator,
    Volumes,
    synthetic_times,
)
from courtflow.sandbox.timefmt import to_us

Key = tuple[int, int]
UNTIMED = frozenset({"opinions-cited"})  # records without date_created/date_modified
_FIELD_CACHE = 50_000
MIN_ID = -(1 << 63)
SORT_FIELDS = ("id", "date_created", "date_modified")
# Ids that are not rows: merged clusters answer 301 to their target, sealed ones 410.
MERGED_CLUSTERS: dict[int, int] = {
    501: SYNTHETIC_BASE_ID,
    502: SYNTHETIC_BASE_ID + 1,
    503: SYNTHETIC_BASE_ID + 2,
}
SEALED_CLUSTERS: frozenset[int] = frozenset({601, 602, 603})


class Stamp(NamedTuple):
    slot: int
    id: int
    modified: int
    created: int
    version: int


class Table:
    """One resource: fixture rows (ids below 1000) then synthetic rows, sorted by id."""

    def __init__(
        self, name: str, rows: Sequence[FixtureRow], synthetic: int, config: SandboxConfig,
        generator: Generator,
    ) -> None:  # fmt: skip
        if any(int(r.pk) >= SYNTHETIC_BASE_ID for r in rows):
            raise ValueError(f"{name}: fixture ids must stay below {SYNTHETIC_BASE_ID}")
        self.name = name
        self.generator = generator
        self.n_fixture = len(rows)
        self.n_synthetic = synthetic
        self._fixture_fields = [r.fields for r in rows]
        modified, created = synthetic_times(
            config.seed, name, synthetic, to_us(config.start), to_us(config.end)
        )
        self.ids = array("q", [int(r.pk) for r in rows])
        self.ids.extend(range(SYNTHETIC_BASE_ID, SYNTHETIC_BASE_ID + synthetic))
        self.modified = array("q", [r.date_modified for r in rows]) + modified
        self.created = array(
            "q", [r.date_created if r.date_created is not None else r.date_modified for r in rows]
        )
        self.created.extend(created)
        self.versions: dict[int, int] = {}
        self.deleted: set[int] = set()  # slots deleted on the server (mutate): gone everywhere
        self.rows: Rows | None = None  # the dataset, for filters that follow relations
        self.timestamps = name not in UNTIMED
        self._field_cache: dict[int, Mapping[str, Any]] = {}
        self.by_modified = self._sorted(self.modified)
        self.by_created = self._sorted(self.created)

    def __len__(self) -> int:
        return len(self.ids)

    def _sorted(self, values: array[int]) -> array[int]:
        # Slots are in id order and sorted() is stable, so equal values stay by id.
        return array("q", sorted(range(len(values)), key=values.__getitem__))

    def slot(self, record_id: int) -> int | None:
        """The slot of a record, None if there is none (or it was deleted)."""
        if record_id >= SYNTHETIC_BASE_ID:
            index = record_id - SYNTHETIC_BASE_ID
            found = self.n_fixture + index if index < self.n_synthetic else None
        else:
            pos = bisect_left(self.ids, record_id, 0, self.n_fixture)
            found = pos if pos < self.n_fixture and self.ids[pos] == record_id else None
        return None if found is None or found in self.deleted else found

    def live_slots(self) -> list[int]:
        """Every record the server still has, in id order."""
        return [s for s in range(len(self.ids)) if s not in self.deleted]

    def delete(self, slot: int) -> None:
        """The record is gone: listings, counts, detail and the bulk export skip it."""
        self.deleted.add(slot)

    def append(self, moment: int) -> int:
        """A new synthetic record created and modified at ``moment``; returns its id."""
        slot = len(self.ids)
        record_id = SYNTHETIC_BASE_ID + self.n_synthetic
        self.ids.append(record_id)
        self.n_synthetic += 1
        self.modified.append(moment)
        self.created.append(moment)
        for field in ("date_modified", "date_created"):
            slots, key = self.order(field)
            assert isinstance(slots, array)
            insort(slots, slot, key=key)
        return record_id

    def order(self, field: str) -> tuple[Sequence[int], Callable[[int], Key]]:
        """Slots in ascending ``(field, id)`` order, and the key that sorts them."""
        ids = self.ids
        if field == "id":
            return range(len(ids)), lambda s: (ids[s], ids[s])
        values = self.modified if field == "date_modified" else self.created
        slots = self.by_modified if field == "date_modified" else self.by_created
        return slots, lambda s: (values[s], ids[s])

    def value(self, slot: int, field: str) -> int:
        if field == "id":
            return self.ids[slot]
        return (self.modified if field == "date_modified" else self.created)[slot]

    def model_at(self, slot: int) -> Model:
        """The row as filters see it (fields cached: they are pure, and related filters
        read the same parent rows again and again)."""
        fields = self._field_cache.get(slot)
        if fields is None:
            if len(self._field_cache) >= _FIELD_CACHE:
                self._field_cache.clear()
            fields = self._field_cache[slot] = self.fields_of(slot)
        created = self.created[slot] if self.timestamps else None
        return Model(self.ids[slot], self.modified[slot], created, fields)

    def live_check(self) -> Callable[[int], bool] | None:
        """The check that leaves deleted records out (None while nothing is deleted)."""
        deleted = self.deleted
        return (lambda slot: slot not in deleted) if deleted else None

    def condition_check(self, condition: Condition) -> Callable[[int], bool]:
        rows = self.rows
        if rows is None:
            raise RuntimeError(f"{self.name}: table is not part of a dataset")
        return lambda slot: condition.matches(rows, self.model_at(slot))

    def stamp(self, slot: int) -> Stamp:
        """What can change about a record, copied out under the dataset lock."""
        return Stamp(
            slot, self.ids[slot], self.modified[slot], self.created[slot],
            self.versions.get(slot, 0),
        )  # fmt: skip

    def fields_of(self, slot: int) -> Mapping[str, Any]:
        """Model fields: immutable (fixtures) or pure (synthetic), so no lock is needed."""
        if slot < self.n_fixture:
            return self._fixture_fields[slot]
        return self.generator.fields(self.name, slot - self.n_fixture)

    def row_of(self, stamp: Stamp) -> Row:
        return Row(
            id=stamp.id, date_modified=stamp.modified, date_created=stamp.created,
            version=stamp.version, fields=self.fields_of(stamp.slot),
        )  # fmt: skip

    def row(self, slot: int) -> Row:
        """A consistent copy of one record (call under the dataset lock)."""
        return self.row_of(self.stamp(slot))

    def move(self, slot: int, modified: int) -> None:
        """Give one record a new date_modified and a new revision, keeping the order sorted."""
        slots, key = self.order("date_modified")
        assert isinstance(slots, array)
        old = bisect_left(slots, (self.modified[slot], self.ids[slot]), key=key)
        if old >= len(slots) or slots[old] != slot:
            raise RuntimeError(f"{self.name}: date_modified index out of order")
        del slots[old]
        self.modified[slot] = modified
        insort(slots, slot, key=key)
        self.versions[slot] = self.versions.get(slot, 0) + 1


@dataclass
class Court:
    row: FixtureRow
    date_modified: int
    version: int = 0


class CourtTable:
    """The real courts (testing courts left out, as the server does), by ``position``."""

    def __init__(self) -> None:
        self.courts = [Court(r, r.date_modified) for r in fixtures.listed_courts()]
        self._by_id = {str(c.row.pk): c for c in self.courts}

    def get(self, court_id: str) -> Court | None:
        return self._by_id.get(court_id)

    def row(self, court: Court) -> Row:
        return Row(
            id=court.row.pk, date_modified=court.date_modified, date_created=None,
            version=court.version, fields=court.row.fields,
        )  # fmt: skip

    def model(self, court_id: str) -> Model | None:
        court = self._by_id.get(str(court_id))
        if court is None:
            return None
        return Model(court.row.pk, court.date_modified, None, court.row.fields)

    def ids_in_use(self) -> list[str]:
        return [str(c.row.pk) for c in self.courts if c.row.fields.get("in_use", True)]


def _fixture_rows(rows: Mapping[str, Sequence[FixtureRow]], name: str) -> list[FixtureRow]:
    # Fixture keys in the synthetic range (two real schools) would collide with generated
    # rows; the generator serves those ids instead.
    return [r for r in rows.get(name, ()) if int(r.pk) < SYNTHETIC_BASE_ID]


class _Embedder:
    """Records embedded in others (a position's person and court...), as the server nests."""

    def __init__(self, data: Dataset, links: Links) -> None:
        self.data, self.links = data, links

    def embed(self, resource: str, key: Any) -> dict[str, Any] | None:
        row = self.data.row_by_key(resource, key)
        if row is None:
            return None
        if resource in EMBEDDED:
            return EMBEDDED[resource](row, self.links)
        return self.data.render(resource, row, self.links)

    def children(self, resource: str, via: str, key: Any) -> list[Any]:
        with self.data.lock:
            return list(self.data.reverse_keys(resource, via).get(str(key), ()))


class Dataset:
    """Every resource's table behind one lock (reads copy rows out; touch() writes)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.lock = threading.RLock()
        self.courts = CourtTable()
        volumes = Volumes.of({name: config.volume(name) for name in SYNTHETIC_RESOURCES})
        self.generator = Generator(config.seed, volumes, self.courts.ids_in_use())
        rows = fixtures.load_records()
        self.tables = {
            name: Table(
                name, _fixture_rows(rows, name), volumes.count(name), config, self.generator
            )
            for name in SYNTHETIC_RESOURCES
        }
        for table in self.tables.values():
            table.rows = self
        self._reverse: dict[tuple[str, str], dict[str, list[Any]]] = {}
        self.encoded = EncodedCache()
        self.merged_clusters = dict(MERGED_CLUSTERS)
        self.sealed_clusters = SEALED_CLUSTERS
        # Bumped by every edit: the search index rebuilds its documents after one.
        self.revision = 0
        self.search = SearchIndex(self)

    def table(self, resource: str) -> Table:
        return self.tables[resource]

    def model(self, resource: str, key: Any) -> Model | None:
        """A row by key for filters (None if there is none); fields never change."""
        if resource == "courts":
            return self.courts.model(str(key))
        table = self.tables.get(resource)
        try:
            slot = None if table is None else table.slot(int(key))
        except (TypeError, ValueError):
            return None
        if table is None or slot is None:
            return None
        with self.lock:
            return table.model_at(slot)

    def reverse_keys(self, resource: str, via: str) -> Mapping[str, Sequence[Any]]:
        """Keys of ``resource`` rows by the key their ``via`` field links to (built once)."""
        index = self._reverse.get((resource, via))
        if index is None:
            index = {}
            # Tag and Citation rows are filter sets only: the sandbox holds none of them.
            table = self.tables.get(resource)
            if table is not None:
                for slot in range(len(table)):
                    value = table.fields_of(slot).get(via)
                    for linked in value if isinstance(value, (list, tuple)) else (value,):
                        if linked is not None:
                            index.setdefault(str(linked), []).append(table.ids[slot])
            self._reverse[(resource, via)] = index
        return index

    def touch(self, resource: str, ids: Iterable[Any], when: datetime | None = None) -> int:
        """Move records' date_modified to ``when`` (default now) and revise their content."""
        moment = to_us(when if when is not None else datetime.now(UTC))
        moved = 0
        with self.lock:
            self.revision += 1
            if resource == "courts":
                for court_id in ids:
                    court = self.courts.get(str(court_id))
                    if court is not None:
                        court.date_modified, court.version = moment, court.version + 1
                        moved += 1
                return moved
            table = self.tables[resource]
            for record_id in ids:
                slot = table.slot(int(record_id))
                if slot is not None:
                    table.move(slot, moment)
                    moved += 1
        return moved

    def delete(self, resource: str, ids: Iterable[Any]) -> list[Any]:
        """Delete records as the server would (hard delete); returns the ids deleted."""
        if resource == "courts":
            raise ValueError("the sandbox does not delete courts")
        gone = []
        with self.lock:
            table = self.tables[resource]
            for record_id in ids:
                slot = table.slot(int(record_id))
                if slot is not None:
                    table.delete(slot)
                    gone.append(table.ids[slot])
        return gone

    def insert(self, resource: str, n: int, when: datetime | None = None) -> list[int]:
        """Create ``n`` synthetic records modified at ``when`` (default now); their ids."""
        if resource == "courts":
            raise ValueError("the sandbox does not create courts")
        moment = to_us(when if when is not None else datetime.now(UTC))
        with self.lock:
            table = self.tables[resource]
            made = [table.append(moment) for _ in range(n)]
            self._reverse.clear()  # relations of the new rows: rebuilt on demand
        return made

    def render(self, resource: str, row: Row, links: Links) -> dict[str, Any]:
        if resource in SHAPES:
            return SHAPES[resource](row, links, _Embedder(self, links))
        nested = self._nested_recap(links) if resource == "docket-entries" else None
        return SERIALIZERS[resource](row, links, nested)

    def row_by_key(self, resource: str, key: Any) -> Row | None:
        if resource == "courts":
            court = self.courts.get(str(key))
            return None if court is None else self.courts.row(court)
        table = self.tables.get(resource)
        try:
            slot = None if table is None else table.slot(int(key))
        except (TypeError, ValueError):
            return None
        if table is None or slot is None:
            return None
        with self.lock:
            return table.row(slot)

    def _nested_recap(self, links: Links) -> Callable[[int], dict[str, Any] | None]:
        table = self.tables["recap-documents"]

        def nested(record_id: int) -> dict[str, Any] | None:
            with self.lock:
                slot = table.slot(int(record_id))
                row = None if slot is None else table.row(slot)
            return None if row is None else SERIALIZERS["recap-documents"](row, links, None)

        return nested
