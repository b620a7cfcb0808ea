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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    others: Mapping[str, int] = field(default_factory=dict)  # the rest of the catalogue

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Volumes:
        core = ("dockets", "clusters", "opinions", "docket-entries", "recap-documents", "people")
        c = [counts.get(name, 0) for name in core]
        others = {k: v for k, v in counts.items() if k not in core}
        return cls(c[0], c[1], c[2], c[3], c[4], c[5], others=others)

    def count(self, resource: str) -> int:
        core = {
            "dockets": self.dockets, "clusters": self.clusters, "opinions": self.opinions,
            "docket-entries": self.entries, "recap-documents": self.recaps, "people": self.people,
        }  # fmt: skip
        return core[resource] if resource in core else self.others.get(resource, 0)


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
        builder = _BUILDERS.get(resource)
        if builder is not None:
            return builder(self, index)
        return catalogue_fields(self, resource, index)

    def parent(self, resource: str, index: int) -> int | None:
        """The row of ``resource`` that child ``index`` belongs to (every parent has some)."""
        return _parent(index, self.volumes.count(resource), None)

    def any_of(self, resource: str, s: Stream) -> int | None:
        count = self.volumes.count(resource)
        return synthetic_id(s.below(count)) if count else None

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


def _day(s: Stream, start: int, days: int) -> str:
    return (date(start, 1, 1) + timedelta(days=s.below(days))).isoformat()


def _sha1(s: Stream) -> str:
    return f"{mix(s.next()):016x}{mix(s.next()):016x}{s.next() & 0xFFFFFFFF:08x}"


def catalogue_fields(g: Generator, resource: str, index: int) -> dict[str, Any]:
    """Model fields of the catalogue's other endpoints (relations as keys)."""
    s = Stream(g.seed, resource, index)
    if resource in _DISCLOSURE_CHILDREN:
        fields = {"financial_disclosure": g.parent("financial-disclosures", index),
                  "redacted": s.chance(0.1)}  # fmt: skip
        fields.update(_DISCLOSURE_CHILDREN[resource](s))
        return fields
    built: dict[str, Any] = _CATALOGUE_BUILDERS[resource](g, s, index)
    return built


def _originating(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {
        "docket_number": f"{s.below(30):02d}-cr-{s.below(99999):05d}",
        "assigned_to": g.any_of("people", s), "assigned_to_str": f"Judge {s.pick(_SURNAMES)}",
        "ordering_judge": g.any_of("people", s), "ordering_judge_str": s.pick(_SURNAMES),
        "court_reporter": s.pick(_FIRST) + " " + s.pick(_SURNAMES),
        "date_disposed": _day(s, 2005, 6000), "date_filed": _day(s, 2000, 6000),
        "date_judgment": _day(s, 2006, 5000), "date_judgment_eod": None,
        "date_filed_noa": _day(s, 2007, 5000), "date_received_coa": None,
    }  # fmt: skip


def _bankruptcy(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {
        "docket": g.parent("dockets", index), "chapter": str(s.pick((7, 11, 13))),
        "trustee_str": s.pick(_FIRST) + " " + s.pick(_SURNAMES), "date_converted": None,
        "date_last_to_file_claims": None, "date_last_to_file_govt": None,
        "date_debtor_dismissed": None,
    }  # fmt: skip


def _audio(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    a, b = s.pick(_SURNAMES), s.pick(_ORGS)
    return {
        "docket": g.parent("dockets", index), "source": s.pick(("C", "H")),
        "case_name": f"{a} v. {b}", "case_name_short": a, "case_name_full": f"{a} v. {b}",
        "judges": ", ".join(s.pick(_SURNAMES) for _ in range(3)), "sha1": _sha1(s),
        "download_url": f"https://example.invalid/audio/{synthetic_id(index)}.mp3",
        "local_path_mp3": f"mp3/{synthetic_id(index)}.mp3", "local_path_original_file": "",
        "duration": 300 + s.below(4000), "processing_complete": s.chance(0.9),
        "blocked": False, "date_blocked": None, "stt_status": s.pick((0, 1, 2)),
        "stt_transcript": s.words(40), "panel": sorted({p for p in (
            g.any_of("people", s) for _ in range(3)) if p is not None}),
    }  # fmt: skip


def _opinions_cited(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {"citing_opinion": g.parent("opinions", index),
            "cited_opinion": g.any_of("opinions", s), "depth": 1 + s.below(4)}  # fmt: skip


def _position(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    start = date(1970, 1, 1) + timedelta(days=s.below(18000))
    ended = s.chance(0.4)
    return {
        "person": g.parent("people", index), "court": s.pick(g.courts) if g.courts else None,
        "appointer": g.any_of("positions", s) if s.chance(0.5) else None,
        "supervisor": None, "predecessor": g.any_of("people", s) if s.chance(0.3) else None,
        "school": None, "position_type": s.pick(("jud", "c-jus", "ass-jud", "pres")),
        "job_title": s.pick(("Judge", "Justice", "Chief Judge", "Magistrate")),
        "sector": s.pick((1, 2)), "organization_name": "", "location_city": s.pick(_SURNAMES),
        "location_state": s.pick(_STATES), "date_nominated": None, "date_elected": None,
        "date_recess_appointment": None, "date_referred_to_judicial_committee": None,
        "date_judicial_committee_action": None, "judicial_committee_action": "",
        "date_hearing": None, "date_confirmation": (start - timedelta(days=30)).isoformat(),
        "date_start": start.isoformat(), "date_granularity_start": "%Y-%m-%d",
        "date_termination": (start + timedelta(days=365 + s.below(9000))).isoformat()
        if ended else None, "termination_reason": "retire_vol" if ended else "",
        "date_granularity_termination": "%Y-%m-%d" if ended else "",
        "date_retirement": None, "nomination_process": s.pick(("fed_senate", "state_senate")),
        "vote_type": "", "voice_vote": s.chance(0.2), "votes_yes": s.below(100),
        "votes_no": s.below(40), "votes_yes_percent": None, "votes_no_percent": None,
        "how_selected": s.pick(("a_pres", "e_part", "e_non_part", "a_gov")),
        "has_inferred_values": False,
    }  # fmt: skip


def _retention(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {
        "position": g.parent("positions", index),
        "retention_type": s.pick(("reapp_gov", "elec_p", "elec_u", "elec_n")),
        "date_retention": _day(s, 1980, 15000), "votes_yes": s.below(100000),
        "votes_no": s.below(50000), "votes_yes_percent": None, "votes_no_percent": None,
        "unopposed": s.chance(0.3), "won": s.chance(0.8),
    }  # fmt: skip


def _education(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {
        "person": g.parent("people", index), "school": g.any_of("schools", s),
        "degree_level": s.pick(("ba", "jd", "llm", "ma")), "degree_detail": s.words(2),
        "degree_year": 1950 + s.below(60),
    }  # fmt: skip


def _school(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    name = f"University of {s.pick(_SURNAMES)}{s.pick(('', ' State', ' Law School'))}"
    alias = g.any_of("schools", s) if s.chance(0.2) else None
    return {"name": name, "ein": 100000000 + s.below(800000000), "is_alias_of": alias}


def _affiliation(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {
        "person": g.parent("people", index), "political_party": s.pick(("d", "r", "i", "g")),
        "source": s.pick(("b", "a", "o")), "date_start": _day(s, 1960, 15000),
        "date_granularity_start": "%Y", "date_end": _day(s, 2000, 8000) if s.chance(0.5) else None,
        "date_granularity_end": "%Y",
    }  # fmt: skip


def _source(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {
        "person": g.parent("people", index),
        "url": f"https://example.invalid/sources/{synthetic_id(index)}",
        "date_accessed": _day(s, 2010, 5000), "notes": s.words(6),
    }  # fmt: skip


def _aba(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    return {"person": g.parent("people", index), "year_rated": 1960 + s.below(60),
            "rating": s.pick(("ewq", "wq", "q", "nq"))}  # fmt: skip


def _party(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    docket = g.parent("dockets", index)
    return {
        "name": s.pick(_ORGS) if s.chance(0.5) else f"{s.pick(_FIRST)} {s.pick(_SURNAMES)}",
        "extra_info": s.words(4), "dockets": [] if docket is None else [docket],
        "party_type": s.pick(("Plaintiff", "Defendant", "Petitioner", "Respondent")),
    }  # fmt: skip


def _attorney(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    party = g.parent("parties", index)
    docket = g.parent("dockets", index)
    first, last = s.pick(_FIRST), s.pick(_SURNAMES)
    return {
        "name": f"{first} {last}", "contact_raw": f"{first} {last}\n{s.pick(_ORGS)}",
        "phone": f"(555) 01{s.below(10)}-{s.below(10000):04d}", "fax": "",
        "email": f"{first}.{last}@example.invalid".lower(),
        "dockets": [] if docket is None else [docket],
        "parties": [] if party is None else [party],
    }  # fmt: skip


def _fjc(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    filed = date(1990, 1, 1) + timedelta(days=s.below(12000))
    return {
        "dataset_source": s.pick((1, 2, 3)), "office": f"{s.below(10)}",
        "docket_number": f"{s.below(10**7):07d}", "origin": s.pick((1, 2, 3, 4, 5)),
        "date_filed": filed.isoformat(), "jurisdiction": s.pick((1, 2, 3, 4, 5)),
        "nature_of_suit": s.pick((110, 190, 440, 530, 830, 890)),
        "title": str(s.below(50)), "section": str(s.below(2000)), "subsection": "",
        "diversity_of_residence": None, "class_action": s.chance(0.05),
        "monetary_demand": s.below(10000), "county_of_residence": s.below(99999),
        "arbitration_at_filing": s.pick(("M", "V", "E", "")),
        "arbitration_at_termination": s.pick(("M", "V", "E", "")),
        "multidistrict_litigation_docket_number": "", "plaintiff": s.pick(_ORGS),
        "defendant": s.pick(_ORGS), "date_transfer": None, "transfer_office": "",
        "transfer_docket_number": "", "transfer_origin": "",
        "date_terminated": (filed + timedelta(days=s.below(1500))).isoformat(),
        "termination_class_action_status": s.pick((1, 2, 3)),
        "procedural_progress": s.pick((1, 2, 3, 4)), "disposition": s.pick((2, 3, 4, 5, 12)),
        "judgment": s.pick((1, 2, 3, 4)), "nature_of_judgement": s.pick((0, 1, 2)),
        "amount_received": s.below(100000), "pro_se": s.pick((0, 1, 2, 3)),
        "year_of_tape": filed.year + 1, "nature_of_offense": "", "version": 0,
        "circuit": s.pick(g.courts) if g.courts else None,
        "district": s.pick(g.courts) if g.courts else None,
    }  # fmt: skip


def _disclosure(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    year = 2010 + s.below(15)
    return {
        "person": g.parent("people", index), "year": year,
        "download_filepath": f"https://example.invalid/disclosures/{synthetic_id(index)}.pdf",
        "filepath": f"financial-disclosures/{year}/{synthetic_id(index)}.pdf",
        "thumbnail": None, "thumbnail_status": 0, "page_count": 1 + s.below(40),
        "sha1": _sha1(s), "report_type": s.pick((-1, 0, 1, 2, 3)), "is_amended": s.chance(0.1),
        "addendum_content_raw": s.words(10), "addendum_redacted": False,
        "has_been_extracted": s.chance(0.8),
    }  # fmt: skip


def _codes(s: Stream) -> str:
    return str(s.pick(("J", "K", "L", "M", "N", "O", "P1", "P2", "-1")))


_DISCLOSURE_CHILDREN: dict[str, Any] = {
    "agreements": lambda s: {"date_raw": str(2000 + s.below(25)),
                             "parties_and_terms": s.words(8)},
    "debts": lambda s: {"creditor_name": s.pick(_ORGS), "description": s.words(4),
                        "value_code": _codes(s)},
    "gifts": lambda s: {"source": s.pick(_ORGS), "description": s.words(4),
                        "value": f"${s.below(5000)}"},
    "investments": lambda s: {
        "page_number": 1 + s.below(20), "description": s.words(3),
        "income_during_reporting_period_code": _codes(s),
        "income_during_reporting_period_type": s.pick(("Dividend", "Interest", "Rent")),
        "gross_value_code": _codes(s), "gross_value_method": s.pick(("Q", "R", "T")),
        "transaction_during_reporting_period": s.pick(("", "Buy", "Sold")),
        "transaction_date_raw": "", "transaction_date": _day(s, 2010, 5000),
        "transaction_value_code": _codes(s), "transaction_gain_code": "",
        "transaction_partner": "", "has_inferred_values": False,
    },
    "non-investment-incomes": lambda s: {
        "date_raw": str(2000 + s.below(25)), "source_type": s.words(3),
        "income_amount": f"${s.below(90000)}",
    },
    "disclosure-positions": lambda s: {"position": s.pick(("Trustee", "Director", "Member")),
                                       "organization_name": s.pick(_ORGS)},
    "reimbursements": lambda s: {
        "source": s.pick(_ORGS), "date_raw": str(2000 + s.below(25)),
        "location": s.pick(_SURNAMES) + ", " + s.pick(_STATES), "purpose": s.words(4),
        "items_paid_or_provided": s.words(3),
    },
    "spouse-incomes": lambda s: {"source_type": s.words(3), "date_raw": str(2000 + s.below(25))},
}  # fmt: skip

def _tag(g: Generator, s: Stream, index: int) -> dict[str, Any]:
    # cl/search/models.py Tag: a unique name of at most 50 characters.
    return {"name": f"{s.pick(_SURNAMES).lower()}-{index}"}


_CATALOGUE_BUILDERS: dict[str, Any] = {
    "tag": _tag,
    "originating-court-information": _originating,
    "bankruptcy-information": _bankruptcy,
    "audio": _audio,
    "opinions-cited": _opinions_cited,
    "positions": _position,
    "retention-events": _retention,
    "educations": _education,
    "schools": _school,
    "political-affiliations": _affiliation,
    "sources": _source,
    "aba-ratings": _aba,
    "parties": _party,
    "attorneys": _attorney,
    "fjc-integrated-database": _fjc,
    "financial-disclosures": _disclosure,
}
