"""The sandbox's search/ against the server's source: shapes, paging, errors, index time.

The field lists below were read from freelawproject/courtlistener (26a474e, 2026-08-21):
each ``*ESResultSerializer`` of ``cl/search/api_serializers.py`` is a DocumentSerializer
over an Elasticsearch document of ``cl/search/documents.py``; its fields are the
document's fields (inherited ones included) minus ``Meta.exclude`` (or only
``Meta.fields``), plus the fields the serializer declares. See docs/search.md.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from courtflow.sandbox import RunningSandbox

SERIALIZER_FIELDS: dict[str, set[str]] = {
    # OpinionClusterESResultSerializer (OpinionClusterDocument)
    "o": {"absolute_url", "attorney", "caseName", "caseNameFull", "citation", "citeCount",
          "cluster_id", "court", "court_citation_string", "court_id", "court_jurisdiction",
          "dateArgued", "dateFiled", "dateReargued", "dateReargumentDenied", "docketNumber",
          "docket_id", "judge", "lexisCite", "meta", "neutralCite",
          "non_participating_judge_ids", "opinions", "panel_ids", "panel_names", "posture",
          "procedural_history", "scdb_id", "sibling_ids", "source", "status", "suitNature",
          "syllabus"},
    # OpinionDocumentESResultSerializer (Meta.fields + snippet, joined_by_ids, meta)
    "o.opinions": {"author_id", "cites", "download_url", "id", "joined_by_ids", "local_path",
                   "meta", "ordering_key", "per_curiam", "sha1", "snippet", "type"},
    # DocketESResultSerializer (DocketDocument)
    "d": {"assignedTo", "assigned_to_id", "attorney", "attorney_id", "caseName",
          "case_name_full", "cause", "chapter", "court", "court_citation_string", "court_id",
          "dateArgued", "dateFiled", "dateTerminated", "docketNumber", "docket_absolute_url",
          "docket_id", "firm", "firm_id", "jurisdictionType", "juryDemand", "meta",
          "pacer_case_id", "party", "party_id", "referredTo", "referred_to_id", "suitNature",
          "trustee_str"},
    # NestedRECAPDocumentESResultSerializer (ESRECAPDocument)
    "r.recap_documents": {"absolute_url", "attachment_number", "cites", "description",
                          "docket_child", "docket_entry_id", "document_number",
                          "document_type", "entry_date_filed", "entry_number",
                          "filepath_local", "id", "is_available", "meta", "pacer_doc_id",
                          "page_count", "short_description", "snippet"},
    # PersonESResultSerializer (PersonDocument)
    "p": {"aba_rating", "absolute_url", "alias", "alias_ids", "date_granularity_dob",
          "date_granularity_dod", "dob", "dob_city", "dob_state", "dob_state_id", "dod",
          "fjc_id", "gender", "id", "meta", "name", "political_affiliation",
          "political_affiliation_id", "positions", "races", "religion", "school"},
    # PositionESResultSerializer (PositionDocument)
    "p.positions": {"appointer", "court", "court_citation_string", "court_exact",
                    "court_full_name", "date_confirmation", "date_elected",
                    "date_granularity_start", "date_granularity_termination", "date_hearing",
                    "date_judicial_committee_action", "date_nominated",
                    "date_recess_appointment", "date_referred_to_judicial_committee",
                    "date_retirement", "date_start", "date_termination", "job_title",
                    "judicial_committee_action", "meta", "nomination_process",
                    "organization_name", "position_type", "predecessor", "selection_method",
                    "selection_method_id", "supervisor", "termination_reason"},
    # OAESResultSerializer (AudioDocument)
    "oa": {"absolute_url", "caseName", "case_name_full", "court", "court_citation_string",
           "court_id", "dateArgued", "dateReargued", "dateReargumentDenied", "docketNumber",
           "docket_id", "download_url", "duration", "file_size_mp3", "id", "judge",
           "local_path", "meta", "pacer_case_id", "panel_ids", "sha1", "snippet", "source"},
}  # fmt: skip
# RECAPESResultSerializer: the docket fields plus its nested documents.
SERIALIZER_FIELDS["r"] = SERIALIZER_FIELDS["d"] | {"recap_documents"}
# RECAPDocumentESResultSerializer: the nested document's fields plus docket_id.
SERIALIZER_FIELDS["rd"] = SERIALIZER_FIELDS["r.recap_documents"] | {"docket_id"}
# MainDocumentMetaDataSerializer / RECAPMetaDataSerializer / BaseMetaDataSerializer.
MAIN_META = {"timestamp", "date_created", "score"}
META = {"o": MAIN_META, "r": MAIN_META | {"more_docs"}, "rd": MAIN_META, "d": MAIN_META,
        "p": MAIN_META, "oa": MAIN_META}  # fmt: skip
CHILD_META = {"timestamp", "date_created"}
CHILDREN = {"o": "opinions", "r": "recap_documents", "p": "positions"}


def first_with(client: httpx.Client, type_code: str, wanted: str | None) -> dict[str, object]:
    body = client.get("search/", params={"type": type_code}).json()
    while True:
        for hit in body["results"]:
            if wanted is None or hit[wanted]:
                return dict(hit)
        assert body["next"], f"no {type_code} hit with {wanted}"
        body = client.get(body["next"]).json()


@pytest.mark.parametrize("type_code", ["o", "r", "rd", "d", "p", "oa"])
def test_every_type_answers_with_its_serializers_fields(
    client: httpx.Client, type_code: str
) -> None:
    body = client.get("search/", params={"type": type_code}).json()
    envelope = {"count", "next", "previous", "results"}
    assert set(body) == (envelope | {"document_count"} if type_code == "r" else envelope)
    assert len(body["results"]) == 20 and body["count"] > 20 and body["previous"] is None
    child = CHILDREN.get(type_code)
    hit = first_with(client, type_code, child)
    assert set(hit) == SERIALIZER_FIELDS[type_code]
    assert set(hit["meta"]) == META[type_code]  # type: ignore[arg-type]
    assert set(hit["meta"]["score"]) == {"bm25"}  # type: ignore[index]
    assert str(hit["meta"]["timestamp"]).endswith("Z")  # type: ignore[index]
    if child is not None:
        nested = hit[child][0]  # type: ignore[index]
        assert set(nested) == SERIALIZER_FIELDS[f"{type_code}.{child}"]
        assert set(nested["meta"]) == CHILD_META
    if type_code == "r":
        assert len(hit["recap_documents"]) <= 3  # type: ignore[arg-type]


def test_the_cursor_walks_every_hit_once_in_order_and_carries_type_date_and_page(
    client: httpx.Client,
) -> None:
    params = {"type": "d", "order_by": "dateFiled asc"}
    body = client.get("search/", params=params).json()
    count, seen, dates, page = body["count"], [], [], 1
    while True:
        seen += [h["docket_id"] for h in body["results"]]
        dates += [h["dateFiled"] for h in body["results"]]
        if body["next"] is None:
            break
        cursor = parse_qs(urlsplit(body["next"]).query)["cursor"][0]
        tokens = parse_qs(base64.b64decode(cursor).decode("ascii"))
        page += 1
        assert tokens["t"] == ["d"] and tokens["p"] == [str(page)] and "d" in tokens
        assert len(tokens["s"]) == 2  # the order's value, then the unique tiebreaker
        body = client.get(body["next"]).json()
        assert body["previous"] is not None
    assert len(seen) == len(set(seen)) == count
    present = [d for d in dates if d]
    assert present == sorted(present) and dates[: len(present)] == present  # nulls last


def test_an_invalid_form_is_a_400_with_the_forms_errors_and_a_bad_cursor_a_404(
    client: httpx.Client,
) -> None:
    bad = client.get("search/", params={"type": "o", "order_by": "newest", "cited_gt": "x"})
    assert bad.status_code == 400
    assert bad.json() == {
        "order_by": ["Select a valid choice. newest is not one of the available choices."],
        "cited_gt": ["Enter a whole number."],
    }
    assert client.get("search/", params={"type": "q"}).status_code == 400
    # Unknown parameters are ignored, as by any Django form.
    plain = client.get("search/", params={"type": "o"}).json()["count"]
    assert client.get("search/", params={"type": "o", "case_nmae": "x"}).json()["count"] == plain
    assert client.get("search/", params={"type": "o", "cursor": "!!"}).status_code == 404
    body = client.get("search/", params={"type": "o"}).json()
    cursor = parse_qs(urlsplit(body["next"]).query)["cursor"][0]
    other = client.get("search/", params={"type": "d", "cursor": cursor})
    assert other.status_code == 404 and other.json() == {"detail": "Invalid cursor"}


def test_meta_timestamp_moves_when_a_record_is_edited(
    sandbox: RunningSandbox, client: httpx.Client
) -> None:
    hit = first_with(client, "o", None)
    before = hit["meta"]["timestamp"]  # type: ignore[index]
    sandbox.touch("clusters", [hit["cluster_id"]])
    params = {"type": "o", "case_name": str(hit["caseName"]).split(" [")[0]}
    again = [h for h in client.get("search/", params=params).json()["results"]
             if h["cluster_id"] == hit["cluster_id"]]  # fmt: skip
    assert again and again[0]["meta"]["timestamp"] > before
