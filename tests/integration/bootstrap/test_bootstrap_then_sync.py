"""Bootstrap the sandbox's exports, then sync through the sandbox from the watermark:
the tables equal an API-only sync of the same data, typed column for typed column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.exports import by_resource
from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.window import Window
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline, sync_window
from courtflow.sandbox import DEMO_TOKEN, RunningSandbox, SandboxConfig, start_sandbox
from courtflow.sandbox.bulk import export_rows, sandbox_records, write_export
from courtflow.store import get_watermark, table_checksum
from courtflow.store.tables import resource_table

RESOURCES_LOADED = ("courts", "dockets", "clusters", "opinions", "people")
EXPORT_DAY = "2024-03-01"  # the sandbox's data is modified before its end, 2024-03-01
EDITED_AT = datetime(2024, 3, 5, tzinfo=UTC)
CONFIG = SandboxConfig(volumes={"dockets": 150, "clusters": 120, "opinions": 120,
                                "docket-entries": 0, "recap-documents": 0, "people": 60})


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(CONFIG) as sb:
        yield sb


def _settings(sandbox: RunningSandbox, db_url: str) -> Settings:
    return Settings.from_env({
        "COURTLISTENER_API_BASE_URL": sandbox.url,
        "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
        "COURTFLOW_DATABASE_URL": db_url,
    })  # fmt: skip


def _write_exports(sandbox: RunningSandbox, folder: Path) -> list[str]:
    data = sandbox.state.data
    paths = []
    for name in RESOURCES_LOADED:
        export = by_resource(name)
        assert export is not None
        path = folder / f"{export.name}-{EXPORT_DAY}.csv.bz2"
        records = sandbox_records(data, name, sandbox.url + "/")
        write_export(path, export, export_rows(export, records))
        paths.append(str(path))
    return paths


def _sync(engine_settings: Settings, since: dict[str, datetime], until: datetime) -> Engine:
    with open_pipeline(engine_settings, run_id="api") as p:
        for name in RESOURCES_LOADED:
            spec = RESOURCES[name]
            sync_window(p.engine, p.client, spec, Window(since[name], until), run_id="api")
        return p.engine


def _typed(engine: Engine, name: str) -> dict[Any, tuple[Any, ...]]:
    spec = RESOURCES[name]
    table = resource_table(spec)
    names = ["id", "date_created", "date_modified", *(c.name for c in spec.columns)]
    with engine.connect() as conn:
        rows = conn.execute(select(*(table.c[n] for n in names))).all()
    return {row[0]: tuple(row) for row in rows}


def test_bootstrap_then_sync_equals_an_api_only_sync(
    sandbox: RunningSandbox, tmp_path: Path, db_url: str
) -> None:
    paths = _write_exports(sandbox, tmp_path)
    # After the export was taken, some records change on the server.
    for name, ids in {"dockets": [1, 2, 3], "clusters": [1], "opinions": [1],
                      "people": [1]}.items():  # fmt: skip
        sandbox.touch(name, [*ids, 100_000_001, 100_000_002], when=EDITED_AT)
    sandbox.touch("courts", ["scotus"], when=EDITED_AT)
    until = datetime.now(UTC) + timedelta(minutes=1)

    settings = _settings(sandbox, db_url)
    with open_pipeline(settings, run_id="bulk") as p:
        engine = p.engine
    results = bootstrap(engine, paths, BootstrapOptions(progress=False, run_id="bulk"))
    assert all(r.rows_written > 0 for r in results)
    since = {}
    with engine.connect() as conn:
        for name in RESOURCES_LOADED:
            mark = get_watermark(conn, name)
            assert mark == datetime(2024, 2, 29, tzinfo=UTC)
            since[name] = mark
    _sync(settings, since, until)

    api_url = db_url.replace("target.sqlite", "api.sqlite") if "sqlite" in db_url else None
    if api_url is None:
        from pg_support import scratch_database

        with scratch_database("courtflow_api") as url:
            api = _sync(_settings(sandbox, url), dict.fromkeys(RESOURCES_LOADED,
                        datetime(2000, 1, 1, tzinfo=UTC)), until)  # fmt: skip
            expected = {name: _typed(api, name) for name in RESOURCES_LOADED}
    else:
        api = _sync(_settings(sandbox, api_url), dict.fromkeys(RESOURCES_LOADED,
                    datetime(2000, 1, 1, tzinfo=UTC)), until)  # fmt: skip
        expected = {name: _typed(api, name) for name in RESOURCES_LOADED}
    for name in RESOURCES_LOADED:
        got = _typed(engine, name)
        assert set(got) == set(expected[name]), name
        different = [key for key in got if got[key] != expected[name][key]]
        assert not different, (name, different[:3], [got[k] for k in different[:1]],
                               [expected[name][k] for k in different[:1]])  # fmt: skip
    # Rows the API fetched again in the overlap keep the API's record: at equal
    # date_modified its hash wins over the export's.
    table = resource_table(RESOURCES["dockets"])
    with engine.connect() as conn:
        overlap = conn.execute(select(table.c.data, table.c.content_hash)
                               .where(table.c.date_modified >= since["dockets"])).all()
    assert overlap and all("resource_uri" in data for data, _ in overlap)
    assert not any(h.startswith("0" * 16) for _, h in overlap)
    # Rerunning the old exports over the newer API rows changes nothing.
    with engine.connect() as conn:
        before = {n: table_checksum(conn, RESOURCES[n]) for n in RESOURCES_LOADED}
    bootstrap(engine, paths, BootstrapOptions(progress=False, force=True))
    with engine.connect() as conn:
        assert {n: table_checksum(conn, RESOURCES[n]) for n in RESOURCES_LOADED} == before
