"""One row shape: the same objects loaded through the sandbox's API and through its own
bulk exports are stored as the same JSON record, key by key (courtflow.bootstrap.shape).

The only differences allowed are the ones the README lists: fields the export cannot
give are absent (``Shape.lacks``), and an object the API embeds whole is a stub of its
``id`` and ``resource_uri``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.exports import by_resource
from courtflow.bootstrap.shape import shape_of
from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline, sync_window
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.sandbox.bulk import export_rows, sandbox_records, write_export
from courtflow.sandbox.config import SYNTHETIC_RESOURCES
from courtflow.store.tables import resource_table

# Every resource that has an export (fjc records carry no id, as on the real server:
# the key is read from resource_uri on both paths).
COMPARED = (
    "courts", "dockets", "clusters", "opinions", "people", "opinions-cited", "audio",
    "fjc-integrated-database",
    "originating-court-information", "schools", "positions", "retention-events",
    "educations", "political-affiliations", "financial-disclosures", "investments",
    "disclosure-positions", "agreements", "non-investment-incomes", "spouse-incomes",
    "reimbursements", "gifts", "debts",
)  # fmt: skip
VOLUMES = {name: 0 for name in SYNTHETIC_RESOURCES} | {
    "dockets": 40, "clusters": 40, "opinions": 40, "people": 30,
    **{name: 25 for name in COMPARED if name not in ("courts", "dockets", "clusters",
                                                      "opinions", "people")},
}  # fmt: skip
EXPORT_DAY = "2024-03-01"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(volumes=VOLUMES)) as sb:
        yield sb


def _settings(sandbox: RunningSandbox, db_url: str) -> Settings:
    return Settings.from_env({
        "COURTLISTENER_API_BASE_URL": sandbox.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db_url,
    })  # fmt: skip


def _records(engine: Engine, name: str) -> dict[Any, dict[str, Any]]:
    table = resource_table(RESOURCES[name])
    with engine.connect() as conn:
        return {row.id: row.data for row in conn.execute(select(table.c.id, table.c.data))}


def _differences(name: str, api: dict[str, Any], bulk: dict[str, Any]) -> list[str]:
    """What differs between the two records, beyond what the export is known to lack."""
    export = by_resource(name)
    assert export is not None
    shape = shape_of(export)
    nested = {link.field for link in shape.links if link.nested}
    out = []
    for key in sorted(set(api) | set(bulk)):
        if key in shape.lacks:
            if key in bulk:
                out.append(f"{key}: listed as lacking, yet the bulk record has it")
            continue
        if key not in bulk or key not in api:
            out.append(f"{key}: only in the {'API' if key in api else 'bulk'} record")
        elif key in nested and isinstance(api[key], dict) and isinstance(bulk[key], dict):
            stub = {k: api[key].get(k) for k in bulk[key]}
            if bulk[key] != stub or set(bulk[key]) - {"id", "resource_uri"}:
                out.append(f"{key}: stub {bulk[key]!r} is not the API's {stub!r}")
        elif api[key] != bulk[key]:
            out.append(f"{key}: API {api[key]!r} != bulk {bulk[key]!r}")
    return out


def test_bulk_and_api_rows_store_the_same_record(
    sandbox: RunningSandbox, tmp_path: Path, db_url: str
) -> None:
    until = datetime.now(UTC) + timedelta(minutes=1)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    with open_pipeline(_settings(sandbox, db_url), run_id="api") as p:
        for name in COMPARED:
            sync_window(p.engine, p.client, RESOURCES[name], Window(since, until), run_id="api")
        api_engine = p.engine
        api = {name: _records(api_engine, name) for name in COMPARED}

    bulk_url = db_url.replace("target.sqlite", "bulk.sqlite") if "sqlite" in db_url else None
    paths = []
    for name in COMPARED:
        export = by_resource(name)
        assert export is not None
        path = tmp_path / f"{export.name}-{EXPORT_DAY}.csv.bz2"
        records = sandbox_records(sandbox.state.data, name, sandbox.url + "/")
        write_export(path, export, export_rows(export, records))
        paths.append(str(path))
    options = BootstrapOptions(progress=False, run_id="bulk", api_base=sandbox.url)

    def compare(engine: Engine) -> None:
        bootstrap(engine, paths, options)
        problems: dict[str, list[str]] = {}
        for name in COMPARED:
            got = _records(engine, name)
            assert got, f"{name}: nothing loaded from the export"
            assert set(got) == set(api[name]), name
            for key, record in got.items():
                diff = _differences(name, api[name][key], record)
                if diff:
                    problems.setdefault(name, diff)
        assert not problems, "\n".join(f"{n}: {d}" for n, d in problems.items())

    if bulk_url is not None:
        with open_pipeline(_settings(sandbox, bulk_url), run_id="bulk") as p:
            compare(p.engine)
        return
    from pg_support import scratch_database

    with scratch_database("courtflow_shape") as url, \
            open_pipeline(_settings(sandbox, url), run_id="bulk") as p:
        compare(p.engine)


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2024-01-05T16:30:00+00:00", "2024-01-05T08:30:00-08:00"),
    ("2024-07-05T16:30:00.120000+00:00", "2024-07-05T09:30:00.120000-07:00"),
    ("2024-07-05T16:30:00.000001+00:00", "2024-07-05T09:30:00.000001-07:00"),
])  # fmt: skip
def test_file_timestamps_are_stored_as_the_api_renders_them(
    stamp: str, expected: str, tmp_path: Path, db_url: str
) -> None:
    from courtflow.bootstrap.exports import EXPORTS
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    export = EXPORTS["dockets"]
    record = {"id": 1, "date_created": stamp, "date_modified": stamp, "court_id": "ca9",
              "slug": "x", "case_name": "", "filepath_local": None}  # fmt: skip
    path = tmp_path / f"dockets-{EXPORT_DAY}.csv.bz2"
    write_export(path, export, export_rows(export, [record]))
    engine = make_engine(db_url)
    upgrade(engine)
    bootstrap(engine, [str(path)], BootstrapOptions(progress=False, api_base="http://h/v4/"))
    [data] = _records(engine, "dockets").values()
    assert data["date_created"] == data["date_modified"] == expected
    assert data["court"] == "http://h/v4/courts/ca9/" and data["resource_uri"] == "http://h/v4/dockets/1/"


def test_progress_follows_the_committed_records(tmp_path: Path, db_url: str) -> None:
    """Issue #25: progress showed 92% at half-way (it counted the bytes read ahead)."""
    from bulk_support import hostile_dockets, write_dockets
    from courtflow.bootstrap.load import load_file, resolve
    from courtflow.store.engine import make_engine
    from courtflow.store.migrate import upgrade

    path = write_dockets(tmp_path / f"dockets-{EXPORT_DAY}.csv.bz2", hostile_dockets(3000))
    engine = make_engine(db_url)
    upgrade(engine)
    options = BootstrapOptions(progress=False, chunk_bytes=32 << 10)
    seen: list[tuple[int, int, int | None]] = []
    load_file(engine, resolve(str(path), options), options,
              on_chunk=lambda rows, _written, done, size: seen.append((rows, done, size)))
    assert len(seen) >= 8
    for rows, done, size in seen:
        assert size == path.stat().st_size
        assert abs(done / size - rows / 3000) < 0.1, (rows, done, size)
    assert seen[-1][1] == seen[-1][2]
