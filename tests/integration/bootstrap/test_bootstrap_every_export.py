"""Every export whose table is a catalogue resource loads into that resource's table,
with the typed columns the API path would make of the same values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.exports import EXPORTS, ExportColumn, loadable, missing
from courtflow.bootstrap.rows import json_value, source_column
from courtflow.catalogue.resources import RESOURCES
from courtflow.sandbox.bulk import write_export
from courtflow.store.convert import NO_TIMESTAMP, convert_value
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.tables import resource_table

STAMP = datetime(2024, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


def _sample(column: ExportColumn, row: int) -> Any:
    if column.name == "id":
        return "scotus" if column.type == "text" else 10 + row
    return {
        "int": 100 + row, "bool": row % 2 == 0, "float": 1.5 + row,
        "date": f"2023-05-0{row + 1}",
        "datetime": STAMP, "text": f'v{row} "q" \\ é\n{column.name}',
    }[column.type]  # fmt: skip


def test_the_catalogue_covers_the_exports_except_citations() -> None:
    # The catalogue has no citations resource (the API nests citations in clusters).
    assert missing() == {"citations": "citations"}


# A few exports that exercise every mapping rule run in make test; the rest are slow.
QUICK = {"courts", "dockets", "citation-map", "people-db-positions",
         "financial-disclosure-investments"}  # fmt: skip


@pytest.mark.parametrize("name", [
    n if n in QUICK else pytest.param(n, marks=pytest.mark.slow) for n in sorted(loadable())
])  # fmt: skip
def test_each_export_loads_into_its_resource_table(name: str, db_url: str,
                                                   tmp_path: Path) -> None:
    export = EXPORTS[name]
    spec = RESOURCES[export.resource]
    rows = [[_sample(c, i) for c in export.columns] for i in range(3)]
    if export.columns[0].type == "text":
        rows = rows[:1]
    path = tmp_path / f"{name}-2024-03-01.csv.bz2"
    write_export(path, export, rows)
    engine = make_engine(db_url)
    upgrade(engine)
    [result] = bootstrap(engine, [str(path)], BootstrapOptions(progress=False))
    assert result.rows_written == len(rows)
    table = resource_table(spec)
    with engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(select(table)).all()}
    for values in rows:
        raw = dict(zip(export.column_names, values, strict=True))
        got = stored[raw["id"]]
        expected_modified = STAMP if spec.timestamps else NO_TIMESTAMP
        assert got.date_modified == expected_modified
        for column in spec.columns:
            src = source_column(export, column)
            assert src is not None, (name, column.name)
            text = None if raw[src.name] is None else (
                raw[src.name] if isinstance(raw[src.name], str) else
                ("t" if raw[src.name] is True else "f" if raw[src.name] is False
                 else str(raw[src.name])))  # fmt: skip
            want = convert_value(column, json_value(src, text))
            assert getattr(got, column.name) == want, (name, column.name)
