"""The sandbox's bulk exports: its records written as CourtListener's export files.

The real server publishes ``<name>-<date>.csv.bz2`` made by PostgreSQL's
``COPY ... TO STDOUT WITH (FORMAT csv, ENCODING utf8, HEADER, ESCAPE '\\', FORCE_QUOTE *)``
piped through bzip2 (``scripts/make_bulk_data.sh``). This module writes the same
dialect: a header, every non-NULL field quoted, ``"`` and ``\\`` escaped with a backslash,
NULL as an empty unquoted field, timestamps as the server's dump prints them, in UTC
(``2016-08-11 19:15:34.069087+00``), booleans as ``t``/``f``, an empty file field as
``""`` (Django stores ``''`` where the API shows null), a related object as its id.
Tests and benchmarks build exports with it.

    write_export(path, EXPORTS["dockets"], export_rows(EXPORTS["dockets"], records))
"""

from __future__ import annotations

import bz2
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from courtflow.bootstrap.exports import Export, ExportColumn
from courtflow.bootstrap.shape import shape_of
from courtflow.sandbox.index import Dataset
from courtflow.sandbox.records import Links
from courtflow.store.convert import link_id

PACIFIC = ZoneInfo("America/Los_Angeles")
UTC_ZONE = ZoneInfo("UTC")


def pg_timestamp(moment: datetime, zone: ZoneInfo = UTC_ZONE) -> str:
    """How PostgreSQL prints a timestamptz in a session of ``zone`` (the dump's is UTC:
    ``... 19:15:34.5+00``; a Pacific session would print ``... 12:15:34.5-07``)."""
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond:06d}".rstrip("0")
    offset = local.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}" + (f":{mins:02d}" if mins else "")


def field(value: Any) -> str:
    """One field in the export dialect (NULL is the empty unquoted field)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, datetime):
        text = pg_timestamp(value)
    else:
        text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line(values: Iterable[Any]) -> str:
    return ",".join(field(v) for v in values) + "\n"


def _value(column: ExportColumn, record: Mapping[str, Any], files: frozenset[str]) -> Any:
    if column.name in record:
        value = record[column.name]
    elif column.name == "id" and isinstance(record.get("resource_uri"), str):
        # A record served without an id (fjc, as the real server does): the table has one.
        value = link_id(record["resource_uri"])
    elif column.name.endswith("_id") and column.name[:-3] in record:
        link = record[column.name[:-3]]
        if isinstance(link, Mapping):  # an embedded object: its id
            value = link.get("id")
        else:
            value = link_id(link) if isinstance(link, str) else link
    else:
        return None
    if value is None:
        return "" if column.name in files else None
    if column.type == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if column.type == "int" and isinstance(value, str):
        return int(value)
    return value


def export_rows(export: Export, records: Iterable[Mapping[str, Any]]) -> Iterator[list[Any]]:
    """API-shaped records as the export's rows (its columns; fields it lacks are NULL)."""
    files = frozenset(shape_of(export).files)
    for record in records:
        yield [_value(c, record, files) for c in export.columns]


def write_lines(out: IO[str], export: Export, rows: Iterable[Iterable[Any]]) -> int:
    out.write(",".join(f'"{n}"' for n in export.column_names) + "\n")
    count = 0
    for row in rows:
        out.write(line(row))
        count += 1
    return count


def write_export(
    path: Path, export: Export, rows: Iterable[Iterable[Any]], *, compresslevel: int = 9
) -> int:
    """Write ``rows`` as an export file (bzip2 unless ``path`` ends in ``.csv``); a low
    ``compresslevel`` makes small bzip2 blocks (100 kB at 1), as a test of a cut file needs."""
    if path.name.endswith(".csv"):
        with open(path, "w", encoding="utf-8", newline="") as out:
            return write_lines(out, export, rows)
    with bz2.open(path, "wt", compresslevel=compresslevel, encoding="utf-8", newline="") as out:
        return write_lines(out, export, rows)


def sandbox_records(data: Dataset, resource: str, base: str) -> Iterator[dict[str, Any]]:
    """Every record of a sandbox resource as the API serves it (links on ``base``)."""
    links = Links(base)
    if resource == "courts":
        for court in data.courts.courts:
            yield data.render("courts", data.courts.row(court), links)
        return
    table = data.table(resource)
    with data.lock:
        slots = table.live_slots()  # deleted records are not in the export
    for slot in slots:
        with data.lock:
            row = table.row(slot)
        yield data.render(resource, row, links)
