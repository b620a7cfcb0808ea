"""Deterministic synthetic records: each one a pure function of (seed, resource, index).

Nothing is stored per record except two timestamps in the index. Fields come out in the
Django model shape of the fixtures (relations as ids), so the same serializers turn
fixture rows and synthetic rows into API records. Relations are consistent by
construction: child ``k`` of a parent table with ``n`` rows belongs to parent ``k % n``.
"""

from __future__ import annotations

import random
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

SYNTHETIC_BASE_ID = 1000  # fixture ids are small; synthetic ids start here
_M64 = (1 << 64) - 1
_LCG_A, _LCG_C = 6364136223846793005, 1442695040888963407  # Knuth's MMIX constants
_CREATED_SPAN_US = 730 * 86_400 * 1_000_000  # creation times spread over two years before start
_TIE_GROUP = 4
_TIE_CHANCE = 1 / 8  # a group of four records sharing one date_modified: ties to page through

_SURNAMES = (
    "Abbott", "Baker", "Castillo", "Dunn", "Ellison", "Fischer", "Garcia", "Hughes", "Ibarra",
    "Jensen", "Kowalski", "Lee", "Morrison", "Nguyen", "Okafor", "Patel", "Quinn", "Reyes",
    "Schmidt", "Tanaka", "Underwood", "Vasquez", "Walsh", "Xu", "Young", "Zimmerman",
)  # fmt: skip
_FIRST = (
    "Alice", "Bernard", "Carmen", "David", "Elena", "Frank", "Grace", "Hector", "Irene", "James",
    "Keiko", "Luis", "Maria", "Nathan", "Olga", "Paul", "Rosa", "Samuel", "Teresa", "Victor",
)  # fmt: skip
_ORGS = (
    "United States", "Acme Corp.", "State of Oregon", "City of Fresno", "Northwind LLC",
    "Globex Inc.", "Department of Labor", "Initech", "County of Kern", "Umbrella Holdings",
)  # fmt: skip
_SUITS = (
    "Contract: Other", "Civil Rights: Other", "Prisoner: Habeas Corpus", "Patent",
    "Labor: Fair Standards", "Torts: Personal Injury", "Bankruptcy Appeal", "Securities",
)  # fmt: skip
_CAUSES = (
    "28:1331 Federal Question",
    "42:1983 Civil Rights Act",
    "28:2254 Habeas Corpus",
    "15:78 Securities Exchange Act",
    "28:1332 Diversity-Breach of Contract",
)
_STATUSES = ("Published", "Unpublished", "Errata", "Separate", "In-chambers")
_OPINION_TYPES = ("010combined", "020lead", "030concurrence", "040dissent")
_WORDS = (
    "court", "appeal", "motion", "judgment", "plaintiff", "defendant", "statute", "evidence",
    "record", "claim", "jurisdiction", "order", "review", "standard", "error", "trial",
)  # fmt: skip
_REPORTERS = ("F.3d", "U.S.", "F. Supp. 2d")
_STATES = ("CA", "NY", "TX", "OR", "WA", "IL", "FL", "MA")


def mix(x: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@cache
def _salt(*parts: str) -> int:
    return zlib.crc32(":".join(parts).encode())


class Stream:
    """Reproducible draws for one record; stable across processes and Python versions.

    The record's start state is a strong hash of (seed, resource, index); the draws that
    follow are a 64-bit LCG's high bits, cheap in pure Python and plenty for fake data.
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int, resource: str, index: int, purpose: str = "fields") -> None:
        self._state = mix(mix((seed & _M64) ^ (_salt(resource, purpose) << 20)) + index)

    def next(self) -> int:
        self._state = (self._state * _LCG_A + _LCG_C) & _M64
        return self._state

    def below(self, n: int) -> int:
        x = self._state = (self._state * _LCG_A + _LCG_C) & _M64
        return ((x >> 32) * n) >> 32

    def pick(self, seq: Sequence[Any]) -> Any:
        x = self._state = (self._state * _LCG_A + _LCG_C) & _M64
        return seq[((x >> 32) * len(seq)) >> 32]

    def chance(self, p: float) -> bool:
        return self.next() < int(p * _M64)

    def words(self, n: int) -> str:
        return " ".join([self.pick(_WORDS) for _ in range(n)])


def synthetic_times(
    seed: int, resource: str, n: int, start_us: int, end_us: int
) -> tuple[array[int], array[int]]:
    """``(date_modified, date_created)`` in microseconds for indices ``0..n-1``.

    ``date_modified`` is spread uniformly over ``[start, end)`` with groups of ties;
    ``date_created`` grows with the id (as autoincrement rows do) and precedes ``start``.
    """
    rng = random.Random(f"courtflow-sandbox:{seed}:{resource}")
    uniform = rng.random  # a bound method: ~20x cheaper per draw than randrange
    span = end_us - start_us
    modified = array("q", [start_us + int(uniform() * span) for _ in range(n)])
    for group in range(0, n - _TIE_GROUP + 1, _TIE_GROUP):
        if uniform() < _TIE_CHANCE:
            for k in range(1, _TIE_GROUP):
                modified[group + k] = modified[group]
    step = _CREATED_SPAN_US // max(n, 1)
    origin = start_us - _CREATED_SPAN_US
    created = array("q", [origin + i * step + int(uniform() * step) for i in range(n)])
    return modified, created


@dataclass(frozen=True)
class Volumes:
    """Synthetic record counts, which fix every cross-table relation."""

    dockets: int
    clusters: int
    opinions: int
    entries: int
    recaps: int
    people: int

    def count(self, resource: str) -> int:
        return {
            "dockets": self.dockets, "clusters": self.clusters, "opinions": self.opinions,
            "docket-entries": self.entries, "recap-documents": self.recaps, "people": self.people,
        }[resource]  # fmt: skip


def synthetic_id(index: int) -> int:
    return SYNTHETIC_BASE_ID + index


def _parent(index: int, parents: int, fallback: int | None) -> int | None:
    return synthetic_id(index % parents) if parents else fallback


def _children(index: int, parents: int, children: int) -> list[int]:
    if index >= parents:
        return []
    return [synthetic_id(k) for k in range(index, children, parents)]


class Generator:
    """Synthetic model fields for one sandbox (seed, volumes, the courts in use)."""

    def __init__(self, seed: int, volumes: Volumes, courts: Sequence[str]) -> None:
        self.seed = seed
        self.volumes = volumes
        self.courts = tuple(courts)

    # Relations, cheap enough for filters that look at every row.
    def docket_court(self, index: int) -> str:
        return str(Stream(self.seed, "dockets", index, "court").pick(self.courts))

    def cluster_docket(self, index: int) -> int | None:
        return _parent(index, self.volumes.dockets, None)

    def opinion_cluster(self, index: int) -> int | None:
        return _parent(index, self.volumes.clusters, None)

    def entry_docket(self, index: int) -> int | None:
        return _parent(index, self.volumes.dockets, None)

    def recap_entry(self, index: int) -> int | None:
        return _parent(index, self.volumes.entries, None)

    def _person(self, s: Stream) -> int | None:
        return synthetic_id(s.below(self.volumes.people)) if self.volumes.people else None

    def fields(self, resource: str, index: int) -> dict[str, Any]:
        return _BUILDERS[resource](self, index)

    def docket(self, index: int) -> dict[str, Any]:
        s = Stream(self.seed, "dockets", index)
        a, b = s.pick(_SURNAMES), s.pick(_ORGS)
        filed = date(2000, 1, 1) + timedelta(days=s.below(9000))
        number = f"{filed.year % 100:02d}-cv-{s.below(100000):05d}"
        return {
            "court": self.docket_court(index), "source": s.pick((0, 1, 9, 64)),
            "case_name": f"{a} v. {b}", "case_name_short": a, "case_name_full": f"{a} v. {b}",
            "slug": f"{a}-v-{b}".lower().replace(" ", "-").replace(".", ""),
            "docket_number": number, "pacer_case_id": str(100000 + s.below(900000)),
            "date_filed": filed.isoformat(),
            "date_terminated": (filed + timedelta(days=30 + s.below(900))).isoformat()
            if s.chance(0.4) else None,
            "cause": s.pick(_CAUSES), "nature_of_suit": s.pick(_SUITS),
            "jury_demand": s.pick(("None", "Plaintiff", "Defendant", "Both")),
            "assigned_to": self._person(s), "assigned_to_str": f"Judge {s.pick(_SURNAMES)}",
            "clusters": _children(index, self.volumes.dockets, self.volumes.clusters),
            "blocked": False,
        }  # fmt: skip

    def cluster(self, index: int) -> dict[str, Any]:
        s = Stream(self.seed, "clusters", index)
        a, b = s.pick(_SURNAMES), s.pick(_SURNAMES)
        panel = sorted({p for p in (self._person(s) for _ in range(3)) if p is not None})
        return {
            "docket": self.cluster_docket(index),
            "case_name": f"{a} v. {b}", "case_name_short": a, "case_name_full": f"{a} v. {b}",
            "slug": f"{a}-v-{b}".lower(), "date_filed": (
                date(1990, 1, 1) + timedelta(days=s.below(12000))).isoformat(),
            "judges": ", ".join(s.pick(_SURNAMES) for _ in range(3)),
            "precedential_status": s.pick(_STATUSES), "citation_count": s.below(500),
            "source": s.pick(("C", "R", "CR", "U")), "panel": panel,
            "syllabus": s.words(12), "procedural_history": s.words(8), "attorneys": s.words(6),
            "nature_of_suit": s.pick(_SUITS), "posture": s.words(5),
            "sub_opinions": _children(index, self.volumes.clusters, self.volumes.opinions),
            "citations": [{
                "volume": 1 + s.below(600), "reporter": s.pick(_REPORTERS),
                "page": str(1 + s.below(1500)), "type": 1,
            }],
            "blocked": False,
        }  # fmt: skip

    def opinion(self, index: int) -> dict[str, Any]:
        s = Stream(self.seed, "opinions", index)
        text = ". ".join(s.words(10).capitalize() for _ in range(6)) + "."
        cited = [synthetic_id(s.below(index)) for _ in range(min(index, 2))]
        return {
            "cluster": self.opinion_cluster(index), "author": self._person(s),
            "type": s.pick(_OPINION_TYPES), "per_curiam": s.chance(0.1),
            "sha1": f"{mix(s.next()):016x}{mix(s.next()):016x}{s.next() & 0xFFFFFFFF:08x}",
            "download_url": f"https://example.invalid/opinions/{synthetic_id(index)}.pdf",
            "local_path": f"pdf/{synthetic_id(index)}.pdf", "plain_text": text,
            "html_with_citations": f"<p>{text}</p>", "extracted_by_ocr": False,
            "page_count": 1 + s.below(60), "opinions_cited": sorted(set(cited)),
        }  # fmt: skip

    def docket_entry(self, index: int) -> dict[str, Any]:
        s = Stream(self.seed, "docket-entries", index)
        return {
            "docket": self.entry_docket(index), "entry_number": 1 + s.below(400),
            "date_filed": (date(2010, 1, 1) + timedelta(days=s.below(5000))).isoformat(),
            "description": s.words(14).capitalize(), "pacer_sequence_number": s.below(1000),
            "recap_documents": _children(index, self.volumes.entries, self.volumes.recaps),
        }  # fmt: skip

    def recap_document(self, index: int) -> dict[str, Any]:
        s = Stream(self.seed, "recap-documents", index)
        available = s.chance(0.6)
        return {
            "docket_entry": self.recap_entry(index), "document_number": str(1 + s.below(400)),
            "attachment_number": None, "document_type": 1, "page_count": 1 + s.below(80),
            "pacer_doc_id": str(10**10 + s.below(10**10)), "is_available": available,
            "is_free_on_pacer": s.chance(0.2), "description": s.words(8).capitalize(),
            "sha1": f"{mix(s.next()):016x}{mix(s.next()):016x}{s.next() & 0xFFFFFFFF:08x}"
            if available else "",
            "plain_text": s.words(30) if available else "", "ocr_status": 4 if available else None,
        }  # fmt: skip

    def person(self, index: int) -> dict[str, Any]:
        s = Stream(self.seed, "people", index)
        first, last = s.pick(_FIRST), s.pick(_SURNAMES)
        return {
            "name_first": first, "name_middle": "", "name_last": last, "name_suffix": "",
            "slug": f"{first}-{last}".lower(), "gender": s.pick(("m", "f")),
            "date_dob": (date(1930, 1, 1) + timedelta(days=s.below(15000))).isoformat(),
            "date_granularity_dob": "%Y-%m-%d", "dob_city": s.pick(_SURNAMES) + "ville",
            "dob_state": s.pick(_STATES), "fjc_id": 1000 + index, "race": [],
        }  # fmt: skip


_BUILDERS = {
    "dockets": Generator.docket,
    "clusters": Generator.cluster,
    "opinions": Generator.opinion,
    "docket-entries": Generator.docket_entry,
    "recap-documents": Generator.recap_document,
    "people": Generator.person,
}
