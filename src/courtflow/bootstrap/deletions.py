"""Deletions found by a newer full export: rows of its scope that it does not hold.

While a file loads, the ids it holds (those the scope keeps) are written to
``bulk_seen_ids`` in each chunk's own transaction, so a resumed load still knows them.
Once the whole file is in, the scope's live rows last modified before the export's
cut-off (the watermark the load sets: its date less ``--overlap``) and absent from the
file are marked ``deleted_at``; a row modified later may simply be newer than the export.

Nothing is marked when there is no evidence: a file without a date, a scope whose rows
cannot be told apart in the table (a filter on a relation), a load that skipped rows
it could not evaluate (``--all``), or a load resumed from before the ids were kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Text, cast, insert, literal, select
from sqlalchemy.sql.elements import ColumnElement

from courtflow.bootstrap.exports import Export
from courtflow.bootstrap.reader import Chunk, parse_records
from courtflow.bootstrap.rows import json_value
from courtflow.bootstrap.rowscope import RowFilter, row_predicate, sql_predicate
from courtflow.catalogue.resources import ResourceSpec
from courtflow.store.deletions import forget_seen, mark_absent, note_seen
from courtflow.store.tables import bulk_seen_ids, resource_table

log = logging.getLogger("courtflow.bootstrap")


@dataclass(frozen=True)
class SeenIds:
    """Writes the ids of each loaded chunk of one file (called inside its transaction)."""

    export: Export
    spec: ResourceSpec
    scope: str
    file: str
    header: tuple[str, ...]
    filters: tuple[RowFilter, ...]
    label: str

    def record(self, conn: Connection, chunk: Chunk) -> None:
        if conn.dialect.name == "postgresql":
            # The chunk is still in the session's staging table (emptied at commit).
            from courtflow.bootstrap.load_pg import _stage

            stage = _stage(self.export)
            ids = select(
                literal(self.spec.name, Text), literal(self.scope, Text),
                literal(self.file, Text), cast(stage.c.id, Text),
            ).where(sql_predicate(stage, self.filters))  # fmt: skip
            conn.execute(
                insert(bulk_seen_ids).from_select(["resource", "scope", "file", "id"], ids)
            )
            return
        position = {name: i for i, name in enumerate(self.header)}
        test = row_predicate(self.filters)
        wanted = [(f.column, position[f.column.name]) for f in self.filters]
        at = position["id"]
        keep: list[str | None] = []
        for _, fields in parse_records(chunk, self.label, len(self.header)):
            record = {c.name: json_value(c, fields[i]) for c, i in wanted}
            if test(record):
                keep.append(fields[at])
        note_seen(conn, self.spec.name, self.scope, self.file, [k for k in keep if k])

    def finish(
        self, conn: Connection, before: datetime, where: ColumnElement[bool] | None
    ) -> int:
        """Mark the scope's rows absent from the file; forget its ids. Returns marked."""
        marked = mark_absent(
            conn, self.spec, self.scope, self.file, before=before, when=datetime.now(UTC),
            where=where,
        )  # fmt: skip
        forget_seen(conn, self.spec.name, self.scope, self.file)
        if marked:
            log.info(
                "rows absent from the export marked deleted",
                extra={"event": "bulk_deletions", "resource": self.spec.name,
                       "scope": self.scope, "file": self.file, "rows": marked},
            )  # fmt: skip
        return marked


def has_rows(conn: Connection, spec: ResourceSpec) -> bool:
    """Whether the table holds any live row (no row: nothing could have been deleted)."""
    table = resource_table(spec)
    stmt = select(table.c.id).where(table.c.deleted_at.is_(None)).limit(1)
    return conn.execute(stmt).first() is not None
