"""What the server's ``search/`` (v4) accepts and answers, per search type, as data.

Every fact is read from freelawproject/courtlistener (snapshot 26a474e, 2026-08-21); see
docs/search.md for the citations:

- ``cl/search/forms.py`` ``SearchForm``: the form's field set (unknown GET parameters are
  silently ignored by a Django form, so a misspelt filter would widen the scope without
  a word: courtflow refuses it locally) and ``OPINION_ORDER_BY_CHOICES``;
- ``cl/search/templates/includes/order_by_dropdown.html``: which ``order_by`` choices
  apply to which type (the form itself accepts every choice for every type);
- ``cl/lib/elasticsearch_utils.py`` ``build_es_base_query``/``build_es_filters``: which
  date filter applies to which type (``filed_*`` -> ``dateFiled`` for o, r, d and rd;
  ``entry_date_filed_*`` -> the RECAP document's ``entry_date_filed``; ``argued_*`` ->
  ``dateArgued`` for oa; ``born_*`` -> ``dob`` for p);
- ``cl/search/constants.py`` ``cardinality_query_unique_ids``: each type's identity
  (``cluster_id``, ``docket_id``, ``id``), also the cursor's tiebreaker;
- ``cl/settings/project/search.py`` ``SEARCH_API_PAGE_SIZE = 20``.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE = 20  # SEARCH_API_PAGE_SIZE
# ELASTICSEARCH_MAX_RESULT_COUNT (cl/settings/third_party/elasticsearch.py): at or above
# it, ``count`` is a cardinality estimate (ESCursorPagination.get_results_count).
EXACT_COUNT_LIMIT = 10_000

# SearchForm's declared fields (court_<id> and stat_<status> checkboxes are added per
# court/status in __init__; `court=` is their documented, space-separated form).
FORM_FIELDS: frozenset[str] = frozenset({
    "type", "q", "court", "order_by", "judge", "case_name", "docket_number",
    "available_only", "description", "nature_of_suit", "cause", "assigned_to",
    "referred_to", "document_number", "attachment_number", "party_name", "atty_name",
    "firm_name", "argued_after", "argued_before", "filed_after", "filed_before",
    "entry_date_filed_after", "entry_date_filed_before", "citation", "neutral_cite",
    "cited_gt", "cited_lt", "name", "born_after", "born_before", "dob_city", "dob_state",
    "school", "appointer", "selection_method", "political_affiliation", "highlight",
    "semantic",
})  # fmt: skip
# forms.IntegerField / BooleanField: refused locally when they would not parse.
INTEGER_FIELDS = frozenset({"cited_gt", "cited_lt"})
BOOLEAN_FIELDS = frozenset({"available_only", "highlight", "semantic"})
# PRECEDENTIAL_STATUS names, as stat_<name> checkboxes (cl/search/models.py).
STATUS_NAMES = frozenset({
    "Published", "Unpublished", "Errata", "Separate", "In-chambers", "Relating-to", "Unknown",
})  # fmt: skip


@dataclass(frozen=True)
class SearchType:
    """One search type: its identity, its own date, the order a walk uses."""

    code: str  # the ``type`` parameter
    label: str
    identity: str  # the hit's key field (cardinality_query_unique_ids)
    date_field: str | None  # the hit's own date field in the result
    date_filter: str | None  # the form's filter prefix: ``filed`` -> filed_after/_before
    walk_order: str  # ``order_by`` of a windowed walk: oldest first, by that date
    order_by: tuple[str, ...]  # the choices that apply to this type
    children: str | None = None  # the nested children's key in a result
    # The database records behind a hit, synced by --hydrate (courtflow.search.hydrate).
    records: str | None = None

    @property
    def table(self) -> str:
        return f"cl_search_{self.code}"

    @property
    def resource(self) -> str:
        """The name checkpoints and watermarks of this type's scopes are kept under."""
        return f"search:{self.code}"


_DOCKET_ORDERS = ("score desc", "dateFiled desc", "dateFiled asc",
                  "entry_date_filed desc", "entry_date_filed asc")  # fmt: skip
TYPES: dict[str, SearchType] = {
    t.code: t
    for t in (
        SearchType("o", "opinion clusters", "cluster_id", "dateFiled", "filed",
                   "dateFiled asc", ("score desc", "dateFiled desc", "dateFiled asc",
                                     "citeCount desc", "citeCount asc"),
                   children="opinions", records="clusters"),
        SearchType("r", "RECAP dockets", "docket_id", "dateFiled", "filed", "dateFiled asc",
                   _DOCKET_ORDERS, children="recap_documents", records="dockets"),
        SearchType("d", "dockets", "docket_id", "dateFiled", "filed", "dateFiled asc",
                   _DOCKET_ORDERS, records="dockets"),
        # The RECAP document's own date is its entry's filing date.
        SearchType("rd", "RECAP documents", "id", "entry_date_filed", "entry_date_filed",
                   "entry_date_filed asc", _DOCKET_ORDERS, records="recap-documents"),
        # People have no filing date: a people scope is walked whole, by name.
        SearchType("p", "people", "id", None, None, "name_reverse asc",
                   ("score desc", "name_reverse asc", "dob desc,name_reverse asc",
                    "dob asc,name_reverse asc", "dod desc,name_reverse asc"),
                   children="positions", records="people"),
        SearchType("oa", "oral arguments", "id", "dateArgued", "argued", "dateArgued asc",
                   ("score desc", "dateArgued desc", "dateArgued asc"), records="audio"),
    )
}  # fmt: skip

# The form's OPINION_ORDER_BY_CHOICES (any type may send any of them; RandomChoiceField
# also takes anything starting with "random_").
ALL_ORDER_BY: tuple[str, ...] = (
    "score desc", "dateFiled desc", "dateFiled asc", "citeCount desc", "citeCount asc",
    "dateArgued desc", "dateArgued asc", "entry_date_filed desc", "entry_date_filed asc",
    "name_reverse asc", "dob desc,name_reverse asc", "dob asc,name_reverse asc",
    "dod desc,name_reverse asc",
)  # fmt: skip
# The form's default order_by per type (SearchForm.clean_order_by).
DEFAULT_ORDER_BY = {"o": "score desc", "oa": "dateArgued desc", "p": "name_reverse asc"}
# The date filter pairs of the form, each one type's own date.
DATE_FILTERS = ("filed", "argued", "entry_date_filed", "born")
