"""SQLite: parse the chunk in Python, then batched multi-row upserts with the API's guard.

SQLite has no COPY; each row is reshaped as the API's record (courtflow.bootstrap.shape)
and goes through the same conversion as API records
(courtflow.store.convert.convert_record), so typed columns agree by construction, and
through one cached ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` statement per batch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import sqlite

from courtflow.bootstrap.exports import Export
from courtflow.bootstrap.reader import Chunk, parse_records
from courtflow.bootstrap.rows import bulk_hash, export_instant, json_value, source_column
from courtflow.bootstrap.rowscope import RowFilter, row_predicate
from courtflow.bootstrap.shape import Shaper, api_base, api_timestamp
from courtflow.catalogue.resources import ResourceSpec
from courtflow.config import DEFAULT_BASE_URL
from courtflow.errors import BadPayloadError, BulkFileError
from courtflow.store.convert import convert_record, convert_value
from courtflow.store.guards import newer_than_stored
from courtflow.store.tables import resource_table

BATCH_ROWS = 500


@cache
def _statement(table: Table) -> Any:
    stmt = sqlite.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != "id"},
        where=newer_than_stored(table, stmt.excluded),
    ).execution_options(preserve_rowcount=True)


class SqliteLoader:
    """Loads chunks of one export file into its resource table."""

    def __init__(
        self,
        export: Export,
        spec: ResourceSpec,
        header: list[str],
        filters: tuple[RowFilter, ...],
        export_date: date | None,
        run_id: str | None,
        label: str,
        base: str = DEFAULT_BASE_URL,
    ) -> None:
        self.export, self.spec, self.header, self.label = export, spec, header, label
        self.columns = [export.column(n) for n in header]
        # Every column but the omitted ones: links and filters read the file's *_id.
        omit = set(spec.default_omit)
        self.keep = [i for i, n in enumerate(header) if n not in omit]
        self.shaper = Shaper(export, spec.name, api_base(base), frozenset(omit),
                             no_id=spec.identity == "resource_uri")  # fmt: skip
        self.test = row_predicate(filters)
        self.run_id = run_id
        self.as_of = (
            None if export.column("date_modified") or export_date is None
            or not spec.timestamps else api_timestamp(export_instant(export_date))
        )  # fmt: skip
        # Typed columns read the file's own names (docket_id where the API has docket).
        self.typed = [(c, source_column(export, c)) for c in spec.columns]
        self.table = resource_table(spec)

    def prepare(self, conn: Connection) -> None:
        """Nothing to set up: SQLite writes straight into the resource table."""

    def _record(self, line: int, fields: list[str | None]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for i in self.keep:
            column = self.columns[i]
            assert column is not None  # the header was checked against the export
            try:
                record[column.name] = json_value(column, fields[i])
            except ValueError as exc:
                raise BulkFileError(
                    self.label, line, f"column {column.name}: {exc} (expected {column.type})"
                ) from None
        if self.as_of is not None:
            record.setdefault("date_modified", self.as_of)
        return record

    def load(self, conn: Connection, chunk: Chunk) -> tuple[int, int]:
        """Parse and upsert one chunk inside the caller's transaction: (read, written)."""
        loaded_at = datetime.now(UTC)
        read = written = 0
        batch: list[dict[str, Any]] = []
        for line, fields in parse_records(chunk, self.label, len(self.header)):
            read += 1
            values = self._record(line, fields)
            if not self.test(values):
                continue
            record = self.shaper.record(values)
            try:
                converted = convert_record(self.spec, record, self.run_id, loaded_at)
            except BadPayloadError as exc:
                raise BulkFileError(self.label, line, str(exc)) from None
            row = converted.row
            for column, src in self.typed:
                if src is None:
                    row[column.name] = None
                    continue
                try:
                    row[column.name] = convert_value(column, values.get(src.name))
                except ValueError as exc:
                    raise BulkFileError(self.label, line,
                                        f"column {src.name}: {exc}") from None  # fmt: skip
            row["content_hash"] = bulk_hash(row["content_hash"])
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                written += self._flush(conn, batch)
                batch = []
        if batch:
            written += self._flush(conn, batch)
        return read, written

    def _flush(self, conn: Connection, batch: list[dict[str, Any]]) -> int:
        result = conn.execute(_statement(self.table), batch)
        return int(result.rowcount)
