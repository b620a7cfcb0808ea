"""API v4 records of the catalogue's other endpoints, as the server's serializers shape them.

Read from ``cl/*/api_serializers.py`` (freelawproject/courtlistener, snapshot 2026-08):
most are ``HyperlinkedModelSerializerWithId`` with ``fields = "__all__"`` (every model
field, relations as links, plus ``resource_uri`` and ``id``); the FJC integrated
database's is a plain ``HyperlinkedModelSerializer``: ``resource_uri`` and no ``id``.
Nesting the server does:
a position embeds its ``person``, ``court``, ``school``, ``supervisor`` and ``predecessor``
and lists its ``retention_events``; an education embeds its ``school``; a financial
disclosure embeds every child record (courtflow omits those by default). Opinions cited
carry no timestamps. Model fields come from :mod:`courtflow.sandbox.synth` or the fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

from courtflow.sandbox.records import Links, Row, court, person
from courtflow.sandbox.synth import Generator, Volumes, catalogue_fields
from courtflow.sandbox.timefmt import render


class Embed(Protocol):
    """The dataset, for records that embed others."""

    def embed(self, resource: str, key: Any) -> dict[str, Any] | None:
        """Another record rendered for embedding (None if there is none)."""
        ...

    def children(self, resource: str, via: str, key: Any) -> list[Any]:
        """Keys of ``resource`` rows whose ``via`` links to ``key``."""
        ...


Shape = Callable[[Row, Links, Embed], dict[str, Any]]

# Records that embed others: their encoded bytes are not cached by their own revision.
NESTING = frozenset({"positions", "educations", "financial-disclosures", "docket-entries"})

_DISCLOSURE_CHILDREN = (
    ("agreements", "agreements"), ("debts", "debts"), ("gifts", "gifts"),
    ("investments", "investments"), ("non_investment_incomes", "non-investment-incomes"),
    ("positions", "disclosure-positions"), ("reimbursements", "reimbursements"),
    ("spouse_incomes", "spouse-incomes"),
)  # fmt: skip


def _stamps(row: Row) -> dict[str, Any]:
    return {
        "date_created": None if row.date_created is None else render(row.date_created),
        "date_modified": render(row.date_modified),
    }


@cache
def model_fields(resource: str) -> tuple[str, ...]:
    """The model's fields, in the generator's order: one record shape per endpoint whether
    a row comes from a fixture (fewer or older fields) or from the generator."""
    return tuple(catalogue_fields(Generator(0, Volumes(0, 0, 0, 0, 0, 0), ()), resource, 0))


def _plain(resource: str, links: Links, row: Row, **links_of: str) -> dict[str, Any]:
    """``resource_uri``, ``id``, timestamps, model fields; ``links_of`` maps a field to the
    resource it links to (``person="people"``), lists becoming lists of links."""
    out: dict[str, Any] = {"resource_uri": links.to(resource, row.id), "id": row.id}
    for name in model_fields(resource):
        value = row.fields.get(name)
        target = links_of.get(name)
        if target is None:
            out[name] = value
        elif isinstance(value, (list, tuple)):
            out[name] = links.many(target, value)
        else:
            out[name] = links.to(target, value)
    out.update(_stamps(row))
    return out


def originating(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    out = _plain("originating-court-information", links, row, assigned_to="people",
                 ordering_judge="people")  # fmt: skip
    out["docket_number_raw"] = row.fields.get("docket_number_raw", "")
    return out


def bankruptcy(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("bankruptcy-information", links, row, docket="dockets")


def audio(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    out = _plain("audio", links, row, docket="dockets", panel="people")
    for name in ("local_path_mp3", "local_path_original_file"):
        out[name] = out.get(name) or None  # file fields: the API shows an empty one as null
    out["filepath_ia"] = row.fields.get("filepath_ia", "")
    out["ia_upload_failure_count"] = row.fields.get("ia_upload_failure_count")
    out["stt_source"] = row.fields.get("stt_source")
    out["absolute_url"] = f"/audio/{row.id}/{row.fields.get('case_name_short', '')}/".lower()
    return out


def opinions_cited(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    f = row.fields
    return {
        "resource_uri": links.to("opinions-cited", row.id), "id": row.id,
        "citing_opinion": links.to("opinions", f.get("citing_opinion")),
        "cited_opinion": links.to("opinions", f.get("cited_opinion")),
        "depth": f.get("depth", 1),
    }  # fmt: skip


def position(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    f = row.fields
    out = _plain("positions", links, row, appointer="positions")
    for name, target in (("person", "people"), ("supervisor", "people"),
                         ("predecessor", "people"), ("school", "schools"), ("court", "courts")):
        key = f.get(name)
        out[name] = None if key is None else embed.embed(target, key)
    events = embed.children("retention-events", "position", row.id)
    out["retention_events"] = [e for e in (embed.embed("retention-events", k) for k in events) if e]
    return out


def retention_event(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("retention-events", links, row, position="positions")


def education(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    out = _plain("educations", links, row, person="people")
    key = row.fields.get("school")
    out["school"] = None if key is None else embed.embed("schools", key)
    return out


def school(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("schools", links, row, is_alias_of="schools")


def affiliation(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("political-affiliations", links, row, person="people")


def source(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("sources", links, row, person="people")


def aba_rating(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("aba-ratings", links, row, person="people")


def party(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    f = row.fields
    return {
        "resource_uri": links.to("parties", row.id), "id": row.id,
        "attorneys": [],  # roles: the attorneys endpoint lists them from its side
        "party_types": [
            {"docket": links.to("dockets", d), "docket_id": d,
             "name": f.get("party_type", ""), "extra_info": "", "date_terminated": None,
             "highest_offense_level_opening": "", "highest_offense_level_terminated": "",
             "criminal_counts": [], "criminal_complaints": []}
            for d in f.get("dockets") or ()
        ],
        **_stamps(row), "name": f.get("name", ""), "extra_info": f.get("extra_info", ""),
    }  # fmt: skip


def attorney(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    f = row.fields
    dockets = list(f.get("dockets") or ())
    return {
        "resource_uri": links.to("attorneys", row.id), "id": row.id,
        "parties_represented": [
            {"role": 1, "docket": links.to("dockets", d), "party": links.to("parties", p),
             "date_action": None}
            for p in f.get("parties") or () for d in dockets[:1]
        ],
        **_stamps(row), "name": f.get("name", ""), "contact_raw": f.get("contact_raw", ""),
        "phone": f.get("phone", ""), "fax": f.get("fax", ""), "email": f.get("email", ""),
    }  # fmt: skip


def fjc(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    # FjcIntegratedDatabaseSerializer (cl/recap/api_serializers.py) is a plain
    # HyperlinkedModelSerializer, not ...WithId: the server sends resource_uri, no id.
    out = _plain("fjc-integrated-database", links, row, circuit="courts", district="courts")
    del out["id"]
    return out


def disclosure(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    out = _plain("financial-disclosures", links, row, person="people")
    out.pop("download_filepath", None)  # the serializer excludes it
    for field_name, resource in _DISCLOSURE_CHILDREN:
        keys = embed.children(resource, "financial_disclosure", row.id)
        out[field_name] = [e for e in (embed.embed(resource, k) for k in keys) if e]
    return out


def _child(resource: str) -> Shape:
    def shape(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
        return _plain(resource, links, row, financial_disclosure="financial-disclosures")

    return shape


def tag(row: Row, links: Links, embed: Embed) -> dict[str, Any]:
    return _plain("tag", links, row)  # TagSerializer: resource_uri, id, timestamps, name


SHAPES: dict[str, Shape] = {
    "tag": tag,
    "originating-court-information": originating,
    "bankruptcy-information": bankruptcy,
    "audio": audio,
    "opinions-cited": opinions_cited,
    "positions": position,
    "retention-events": retention_event,
    "educations": education,
    "schools": school,
    "political-affiliations": affiliation,
    "sources": source,
    "aba-ratings": aba_rating,
    "parties": party,
    "attorneys": attorney,
    "fjc-integrated-database": fjc,
    "financial-disclosures": disclosure,
    **{name: _child(name) for _, name in _DISCLOSURE_CHILDREN},
}

# Embedded people and courts use their own endpoints' shapes.
EMBEDDED: dict[str, Callable[[Row, Links], dict[str, Any]]] = {
    "people": lambda row, links: person(row, links, None),
    "courts": lambda row, links: court(row, links, None),
}
