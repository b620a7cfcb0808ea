"""Every endpoint of the catalogue walked on the sandbox, whole and scoped, into SQLite.

Whole: the stored rows are exactly the server's (its own count and a direct walk), in
the spec's order, with the record keys the spec relies on and typed columns that agree
with the record (checked here by hand, not by the converter). Scoped: for every
resource with filters, a filter on one of its own fields with a value taken from the
data, and a set of related filters (forward and reverse links, two and three hops)
whose expected rows are computed from the whole tables with SQL joins.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text

from courtflow.budget.rates import parse_rates
from courtflow.catalogue.resources import RESOURCES, ColumnSpec, ResourceSpec
from courtflow.catalogue.scope import Scope
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.redact import Secret
from courtflow.run.sync import Pipeline, open_pipeline, sync_window
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.sandbox.config import SYNTHETIC_RESOURCES
from courtflow.store.tables import resource_table

WINDOW = Window(datetime(1990, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
VOLUME = 45  # three pages per endpoint (fixtures add a few rows to some)
NAMES = list(RESOURCES)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    config = SandboxConfig(
        rates=("1000000/hour",), seed=11, volumes={n: VOLUME for n in SYNTHETIC_RESOURCES}
    )
    with start_sandbox(config) as running:
        yield running


def settings(url: str, db: str) -> Settings:
    return Settings(
        base_url=url, token=Secret(DEMO_TOKEN), database_url=db,
        rates=parse_rates("1000000/hour"), max_sleep=5.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def whole(sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Every endpoint synced whole into one SQLite database (the reference for scopes)."""
    db = f"sqlite:///{tmp_path_factory.mktemp('whole') / 'whole.sqlite'}"
    with open_pipeline(settings(sandbox.url, db), run_id="whole") as p:
        for spec in RESOURCES.values():
            result = p.sync(spec, WINDOW, run_id="whole")
            assert result.rows > 0, spec.name
        yield p


def server_records(sandbox: RunningSandbox, spec: ResourceSpec, **filters: str) -> list[Any]:
    """The endpoint walked directly with httpx, as the spec orders it."""
    params: dict[str, str] = dict(filters)
    if spec.pagination == "cursor":
        params["order_by"] = spec.order_by
    if spec.default_omit:
        params["omit"] = ",".join(spec.default_omit)
    url: str | None = f"{sandbox.url}/{spec.path}"
    records: list[Any] = []
    with httpx.Client(headers={"Authorization": f"Token {DEMO_TOKEN}"}) as client:
        while url is not None:
            response = client.get(url, params=params if not records else None)
            response.raise_for_status()
            body = response.json()
            records.extend(body["results"])
            url = body["next"]
            params = {}
    return records


def stored(engine: Engine, spec: ResourceSpec) -> dict[Any, dict[str, Any]]:
    table = resource_table(spec)
    with engine.connect() as conn:
        return {row.id: row._asdict() for row in conn.execute(select(table))}


def record_id(spec: ResourceSpec, record: dict[str, Any]) -> Any:
    """The record's key by the spec's declared identity, read by hand."""
    if spec.identity == "id":
        return record["id"]
    return int(record["resource_uri"].rstrip("/").rsplit("/", 1)[-1])


def raw_value(record: dict[str, Any], source: str) -> Any:
    value: Any = record
    for part in source.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def expected_column(column: ColumnSpec, raw: Any) -> Any:
    """What the typed column must hold, derived by hand from the record's value."""
    if raw is None:
        return None
    if isinstance(raw, str) and "/api/rest/v4/" in raw:
        raw = raw.rstrip("/").rsplit("/", 1)[-1]
    if column.type == "int":
        return int(raw)
    if column.type == "date":
        return date.fromisoformat(raw)
    if column.type == "text":
        return str(raw)
    return raw


def order_key(spec: ResourceSpec, record: dict[str, Any]) -> Any:
    if spec.order_by == "date_modified":
        return (datetime.fromisoformat(record["date_modified"]), record_id(spec, record))
    if spec.order_by == "position":
        return float(record["position"])
    return record_id(spec, record)


@pytest.mark.parametrize("name", NAMES)
def test_whole_walk_stores_exactly_the_server_rows(
    name: str, sandbox: RunningSandbox, whole: Pipeline
) -> None:
    spec = RESOURCES[name]
    records = server_records(sandbox, spec)
    rows = stored(whole.engine, spec)
    # Rows: the server's, once each, and its own count agrees.
    assert sorted(rows) == sorted(record_id(spec, r) for r in records)
    assert len(records) == len({record_id(spec, r) for r in records})
    assert whole.client.count(spec, filters={}) == len(records)
    # Ordering: ascending by the spec's order, which the checkpoints rely on.
    keys = [order_key(spec, r) for r in records]
    assert keys == sorted(keys)
    # Keys: one shape per endpoint, with what the spec reads and without what it omits.
    shapes = {frozenset(r) for r in records}
    assert len(shapes) == 1, shapes
    (shape,) = shapes
    assert "resource_uri" in shape
    # The identity the spec declares is the one the records carry (fjc: no id).
    assert ("id" in shape) == (spec.identity == "id")
    assert ("date_modified" in shape) == spec.timestamps
    # The server's RECAP document serializer leaves docket_entry out (API.md).
    unsent = {"docket_entry"} if name == "recap-documents" else set()
    assert {c.source.split(".")[0] for c in spec.columns} - unsent <= shape
    assert not set(spec.default_omit) & shape
    for omitted in (n for n in spec.default_omit if "__" in n):  # nested: parent__child
        parent, child = omitted.split("__", 1)
        nested = [item for r in records for item in r[parent]]
        assert nested and all(child not in item for item in nested), omitted
    # Typed columns agree with the stored record; each is filled somewhere.
    filled = {c.name: 0 for c in spec.columns}
    for row in rows.values():
        for column in spec.columns:
            value = row[column.name]
            assert value == expected_column(column, raw_value(row["data"], column.source)), (
                row["id"], column
            )
            filled[column.name] += value is not None
    never = {n for n, count in filled.items() if count == 0}
    assert never <= ({"docket_entry_id"} if name == "recap-documents" else set()), never


def as_filter_value(value: Any) -> str:
    """A record's value as a filter compares it: links by key, booleans in lower case."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and "/api/rest/v4/" in value:
        return value.rstrip("/").rsplit("/", 1)[-1]
    return str(value)


def own_filter(spec: ResourceSpec, rows: dict[Any, dict[str, Any]]) -> tuple[str, str] | None:
    """An exact filter on one of the resource's own fields, valued from a stored record."""
    for field in spec.filters:
        if "__" in field.name or field.name in ("id", "date_created"):
            continue
        if field.type not in ("text", "int", "choice", "bool") or "exact" not in field.lookups:
            continue
        values = [r["data"].get(field.name) for r in rows.values()]
        usable = [v for v in values if isinstance(v, (str, int)) and v != ""]
        if len(usable) == len(values) and len(set(map(as_filter_value, usable))) > 1:
            return field.name, as_filter_value(usable[len(usable) // 2])
    return None


def scoped_sync(sandbox: RunningSandbox, db: str, spec: ResourceSpec, filters: dict[str, str]) -> (
    dict[Any, dict[str, Any]]
):
    with open_pipeline(settings(sandbox.url, db), run_id="scoped") as p:
        scope = Scope.of(spec, filters)
        result = sync_window(p.engine, p.client, spec, WINDOW, run_id="scoped", scope=scope)
        assert result.scope == scope.key and not result.skipped
        return stored(p.engine, spec)


FILTERED = [n for n in NAMES if RESOURCES[n].filters]


@pytest.mark.parametrize("name", FILTERED)
def test_a_scope_on_an_own_field_stores_exactly_its_rows(
    name: str, sandbox: RunningSandbox, whole: Pipeline, tmp_path: Path
) -> None:
    spec = RESOURCES[name]
    rows = stored(whole.engine, spec)
    chosen = own_filter(spec, rows)
    assert chosen is not None, f"{name}: no own field to filter on"
    field, value = chosen
    expected = {k for k, r in rows.items() if as_filter_value(r["data"][field]) == value}
    assert 0 < len(expected) < len(rows)
    got = scoped_sync(sandbox, f"sqlite:///{tmp_path / 's.sqlite'}", spec, {field: value})
    assert set(got) == expected


# Related filters, with the expected ids as SQL over the whole tables. ``:v`` is a value
# taken from the data by ``pick`` (a SQL returning one value).
RELATED = [
    ("opinions", "cluster__docket__court",
     "SELECT court_id FROM cl_dockets d JOIN cl_clusters c ON c.docket_id = d.id "
     "JOIN cl_opinions o ON o.cluster_id = c.id GROUP BY court_id ORDER BY count(*) DESC",
     "SELECT o.id FROM cl_opinions o JOIN cl_clusters c ON o.cluster_id = c.id "
     "JOIN cl_dockets d ON c.docket_id = d.id WHERE d.court_id = :v"),
    ("clusters", "docket__court__jurisdiction",
     "SELECT k.jurisdiction FROM cl_courts k JOIN cl_dockets d ON d.court_id = k.id "
     "JOIN cl_clusters c ON c.docket_id = d.id GROUP BY 1 ORDER BY count(*) DESC",
     "SELECT c.id FROM cl_clusters c JOIN cl_dockets d ON c.docket_id = d.id "
     "JOIN cl_courts k ON d.court_id = k.id WHERE k.jurisdiction = :v"),
    ("dockets", "clusters__sub_opinions__type",  # reverse, reverse
     "SELECT type FROM cl_opinions GROUP BY 1 ORDER BY count(*) ASC",
     "SELECT DISTINCT c.docket_id FROM cl_clusters c JOIN cl_opinions o "
     "ON o.cluster_id = c.id WHERE o.type = :v"),
    ("people", "positions__court",  # reverse
     "SELECT court_id FROM cl_positions WHERE court_id IS NOT NULL "
     "GROUP BY 1 ORDER BY count(*) DESC",
     "SELECT DISTINCT person_id FROM cl_positions WHERE court_id = :v"),
    ("agreements", "financial_disclosure__person__name_last",
     "SELECT p.name_last FROM cl_people p JOIN cl_financial_disclosures f ON f.person_id = p.id "
     "JOIN cl_agreements a ON a.financial_disclosure_id = f.id GROUP BY 1 ORDER BY count(*) DESC",
     "SELECT a.id FROM cl_agreements a JOIN cl_financial_disclosures f "
     "ON a.financial_disclosure_id = f.id JOIN cl_people p ON f.person_id = p.id "
     "WHERE p.name_last = :v"),
    ("docket-entries", "docket__court",
     "SELECT d.court_id FROM cl_dockets d JOIN cl_docket_entries e ON e.docket_id = d.id "
     "GROUP BY 1 ORDER BY count(*) DESC",
     "SELECT e.id FROM cl_docket_entries e JOIN cl_dockets d ON e.docket_id = d.id "
     "WHERE d.court_id = :v"),
    ("opinions-cited", "citing_opinion__cluster__docket__court",
     "SELECT d.court_id FROM cl_opinions_cited x JOIN cl_opinions o ON x.citing_opinion_id = o.id "
     "JOIN cl_clusters c ON o.cluster_id = c.id JOIN cl_dockets d ON c.docket_id = d.id "
     "GROUP BY 1 ORDER BY count(*) DESC",
     "SELECT x.id FROM cl_opinions_cited x JOIN cl_opinions o ON x.citing_opinion_id = o.id "
     "JOIN cl_clusters c ON o.cluster_id = c.id JOIN cl_dockets d ON c.docket_id = d.id "
     "WHERE d.court_id = :v"),
    ("educations", "school__name__istartswith",
     "SELECT substr(s.name, 1, 16) FROM cl_schools s JOIN cl_educations e ON e.school_id = s.id "
     "GROUP BY 1 ORDER BY count(*) DESC",
     "SELECT e.id FROM cl_educations e JOIN cl_schools s ON e.school_id = s.id "
     "WHERE lower(s.name) LIKE lower(:v) || '%'"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "param", "pick", "expected_sql"), RELATED,
                         ids=[f"{r[0]}?{r[1]}" for r in RELATED])  # fmt: skip
def test_a_related_scope_stores_exactly_its_rows(
    name: str, param: str, pick: str, expected_sql: str,
    sandbox: RunningSandbox, whole: Pipeline, tmp_path: Path,
) -> None:  # fmt: skip
    spec = RESOURCES[name]
    with whole.engine.connect() as conn:
        value = conn.execute(text(pick)).scalars().first()
        assert value is not None
        expected = set(conn.execute(text(expected_sql), {"v": value}).scalars())
    assert expected and len(expected) < len(stored(whole.engine, spec))
    got = scoped_sync(sandbox, f"sqlite:///{tmp_path / 's.sqlite'}", spec, {param: str(value)})
    assert set(got) == expected
