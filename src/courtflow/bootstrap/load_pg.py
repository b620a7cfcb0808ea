"""PostgreSQL: COPY a chunk of the file into a staging table, then one merging INSERT.

The server parses the CSV (COPY, the export's own dialect) into a temporary table typed
like the export, and builds each row's JSON record (``to_jsonb`` of the staged row,
reshaped as the API's record: courtflow.bootstrap.shape),
content hash and typed columns in the merge, so Python never touches a field. The merge
is ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE`` with the API upserts' own guard
(courtflow.store.guards.newer_than_stored): an older export over newer rows changes
nothing. One chunk is one transaction.

A first load tries a plain ``INSERT`` first (no speculative insertion: cheaper): where
no row of the chunk exists it does exactly what the merge would. The first unique
violation (a row stored before, or inserted meanwhile by a concurrent sync, whose
insert we wait for) rolls the attempt back to its savepoint and the merge runs
instead, for that chunk and every later one of the loader: no lock, no emptiness
check, no race.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from courtflow.bootstrap.exports import Export, ExportType
from courtflow.bootstrap.reader import Chunk, parse_records
from courtflow.bootstrap.rows import (
    BULK_HASH_PREFIX,
    BULK_HASH_SUFFIX,
    export_instant,
    source_column,
)
from courtflow.bootstrap.rowscope import RowFilter, sql_predicate
from courtflow.bootstrap.shape import API_TZ_NAME, Shaper, api_base, api_timestamp
from courtflow.catalogue.resources import ResourceSpec
from courtflow.config import DEFAULT_BASE_URL
from courtflow.errors import BulkFileError
from courtflow.store.coltypes import UTCDateTime
from courtflow.store.convert import NO_TIMESTAMP
from courtflow.store.guards import newer_than_stored
from courtflow.store.tables import SQL_TYPES, resource_table

_STAGE_TYPES: dict[ExportType, str] = {
    "int": "bigint", "bool": "boolean", "float": "double precision", "date": "date",
    "datetime": "timestamptz", "text": "text",
}  # fmt: skip
_CORE_TYPES: dict[ExportType, type[TypeEngine[Any]]] = {
    "int": BigInteger, "bool": Boolean, "float": Float, "date": Date,
    "datetime": UTCDateTime, "text": Text,
}  # fmt: skip
_LINE = re.compile(r"line (\d+)")
# "ON CONFLICT DO UPDATE command cannot affect row a second time": an id twice in a chunk.
_CARDINALITY_VIOLATION = "21000"
_UNIQUE_VIOLATION = "23505"

# Staging tables live in their own MetaData: they must never reach migrations.
_stage_metadata = MetaData()


def _stage(export: Export) -> Table:
    name = f"courtflow_bulk_{export.name.replace('-', '_')}"
    existing = _stage_metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(
        name, _stage_metadata, *(Column(c.name, _CORE_TYPES[c.type]()) for c in export.columns)
    )


class PgLoader:
    """Loads chunks of one export file into its resource table (one connection)."""

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
        self.stage = _stage(export)
        self.shaper = Shaper(export, spec.name, api_base(base), frozenset(spec.default_omit),
                             no_id=spec.identity == "resource_uri")  # fmt: skip
        self.as_of = (
            export_instant(export_date) if export_date is not None and spec.timestamps
            and export.column("date_modified") is None else None
        )  # fmt: skip
        self.filters = filters
        self.export_date = export_date
        self.run_id = run_id
        self._insert = self._merge_statement(dedupe=False, merge=False)
        self._merge = self._merge_statement(dedupe=False)
        self._merge_deduped = self._merge_statement(dedupe=True)
        # Plain INSERTs until the first chunk that meets a stored id (see the docstring).
        # Shared by the load's connections: one that read it before another cleared it
        # only spends one more failed attempt.
        self._inserting = True

    def _merge_statement(self, *, dedupe: bool, merge: bool = True) -> Any:
        stage, export, spec = self.stage, self.export, self.spec
        data_sql = literal_column("to_jsonb(r)", type_=postgresql.JSONB)
        staged = stage.alias("s")
        pick = (
            select(*staged.c, data_sql.label("data"),
                   # md5 (32 hex digits) of the staged row's text: see rows.py.
                   func.md5(cast(literal_column("s"), Text)).label("digest"))
            .select_from(staged, text(self._record_sql()))
            .where(sql_predicate(staged, self.filters))
            .offset(0)  # keep to_jsonb evaluated once per row (no sub-query pull-up)
            .subquery("j")
        )
        content_hash = (literal(BULK_HASH_PREFIX, Text) + pick.c.digest
                        + literal(BULK_HASH_SUFFIX, Text))  # fmt: skip
        table = resource_table(spec)
        values: dict[str, Any] = {"id": pick.c.id}
        values["date_created"] = (
            pick.c.date_created if export.column("date_created") and spec.timestamps
            else null()
        )  # fmt: skip
        if not spec.timestamps:
            # Records without timestamps (opinions-cited): the API path's fixed one.
            values["date_modified"] = literal(NO_TIMESTAMP, UTCDateTime())
        elif export.column("date_modified"):
            values["date_modified"] = pick.c.date_modified
        else:
            # An export without date_modified is taken to be as of its own date.
            if self.export_date is None:
                raise BulkFileError(
                    self.label, None,
                    "this export has no date_modified column and its name has no date",
                )  # fmt: skip
            values["date_modified"] = literal(export_instant(self.export_date), UTCDateTime())
        for column in spec.columns:
            src = source_column(export, column)
            values[column.name] = (
                null() if src is None else cast(pick.c[src.name], SQL_TYPES[column.type]())
            )
        values["data"] = pick.c.data
        values["content_hash"] = content_hash
        values["run_id"] = bindparam("run_id", type_=Text)
        values["loaded_at"] = bindparam("loaded_at", type_=UTCDateTime)
        values["deleted_at"] = null()  # in the export: live (as of its date)
        names = [c.name for c in table.columns]
        hash_col = content_hash.label("content_hash")
        exprs = [hash_col if n == "content_hash" else values[n].label(n) for n in names]
        source = select(*exprs)
        if dedupe:
            # One version per id (the winner), as PostgreSQL refuses to update a row twice
            # in one statement; only needed when a chunk repeats an id (exports do not).
            source = source.ext(postgresql.distinct_on(pick.c.id)).order_by(
                pick.c.id, values["date_modified"].desc(), hash_col.desc()
            )
        insert = postgresql.insert(table).from_select(names, source)
        if not merge:
            return insert.execution_options(preserve_rowcount=True)
        # SQLAlchemy keeps an INSERT's rowcount only when asked: rows inserted or changed.
        return insert.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={n: insert.excluded[n] for n in names if n != "id"},
            where=newer_than_stored(table, insert.excluded),
        ).execution_options(preserve_rowcount=True)

    def _record_sql(self) -> str:
        """The API's record for a staged row ``s`` (see courtflow.bootstrap.shape), as a
        LATERAL sub-select whose columns are the record's fields: ``to_jsonb`` of it
        builds the record in one pass (taking keys off ``to_jsonb(s)`` and adding the
        rebuilt ones with ``||`` built it three times: half as much server CPU again)."""
        shaper, export = self.shaper, self.export
        shape = shaper.shape
        gone = shaper.removed()
        base = _lit(api_base(shaper.base) + "/")
        fields: list[tuple[str, str]] = [("resource_uri", _url(base, shaper.resource, 's."id"'))]
        for column in export.columns:
            if column.name in gone:
                continue
            ref = f"s.{_q(column.name)}"
            if column.type == "datetime":
                fields.append((column.name, _api_timestamp(ref)))
            elif column.name in shape.files:
                fields.append((column.name, f"NULLIF({ref}, '')"))
            else:
                fields.append((column.name, ref))
        for link in shape.links:
            if export.column(link.column) is None or link.field in shaper.omit:
                continue
            ref = f"s.{_q(link.column)}"
            url = _url(base, link.resource, ref)
            if link.nested:
                stub = f"'resource_uri', {url}" + (f", 'id', {ref}" if link.nested_id else "")
                url = f"CASE WHEN {ref} IS NULL THEN NULL ELSE jsonb_build_object({stub}) END"
            fields.append((link.field, url))
        if shape.absolute_url is not None:
            parts = re.split(r"\{(\w+)\}", shape.absolute_url)
            pieces = [_lit(p) if i % 2 == 0 else f"coalesce(s.{_q(p)}::text, '')"
                      for i, p in enumerate(parts) if p]  # fmt: skip
            fields.append(("absolute_url", " || ".join(pieces)))
        if self.as_of is not None:
            fields.append(("date_modified", _lit(api_timestamp(self.as_of))))
        return "LATERAL (SELECT " + ", ".join(f"{sql} AS {_q(name)}" for name, sql in fields) \
            + ") AS r"

    def prepare(self, conn: Connection) -> None:
        """Create the session's staging table (emptied at every commit)."""
        columns = ", ".join(
            f"{_q(c.name)} {_STAGE_TYPES[c.type]}" for c in self.export.columns
        )
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_q(self.stage.name)} ({columns}) "
            "ON COMMIT DELETE ROWS"
        )
        conn.commit()

    def load(self, conn: Connection, chunk: Chunk) -> tuple[int, int]:
        """COPY and merge one chunk inside the caller's transaction: (rows read, written)."""
        # The record's timestamps are rendered in the API's zone (see shape.py).
        conn.exec_driver_sql(f"SET LOCAL TIME ZONE '{API_TZ_NAME}'")
        column_list = ", ".join(_q(n) for n in self.header)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(
                f"COPY {_q(self.stage.name)} ({column_list}) FROM STDIN "
                "WITH (FORMAT csv, ESCAPE '\\', ENCODING 'UTF8')"
            ) as copy:
                copy.write(chunk.data)
            read = int(cursor.rowcount)
        except Exception as exc:  # psycopg.Error: name the file's line
            raise self._file_error(exc, chunk) from None
        finally:
            cursor.close()
        params = {"run_id": self.run_id, "loaded_at": datetime.now(UTC)}
        try:
            if self._inserting:
                try:
                    with conn.begin_nested():
                        return read, int(conn.execute(self._insert, params).rowcount)
                except DBAPIError as exc:
                    if _sqlstate(exc) != _UNIQUE_VIOLATION:
                        raise
                    self._inserting = False
            try:
                with conn.begin_nested():
                    result = conn.execute(self._merge, params)
            except DBAPIError as exc:
                if _sqlstate(exc) != _CARDINALITY_VIOLATION:
                    raise
                result = conn.execute(self._merge_deduped, params)
        except DBAPIError as exc:
            raise self._file_error(exc.orig or exc, chunk) from None
        return read, int(result.rowcount)

    def _file_error(self, exc: BaseException, chunk: Chunk) -> BulkFileError:
        # COPY's CSV parser is lenient with a stray quote (it reads on into the next
        # records and fails later); the strict parser finds where the damage starts.
        try:
            for _ in parse_records(chunk, self.label, len(self.header)):
                pass
        except BulkFileError as precise:
            return precise
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None) or str(exc).splitlines()[0]
        context = getattr(diag, "context", None) or ""
        found = _LINE.search(context)
        # COPY counts physical lines, embedded newlines included, from the chunk's start.
        line = chunk.first_line + int(found.group(1)) - 1 if found else None
        detail = context.split(",", 2)[2].strip() if found and context.count(",") >= 2 else ""
        problem = f"{primary}{f' ({detail})' if detail else ''}"
        if "invalid byte sequence" in primary:
            problem += ": wrong encoding (the exports are UTF-8)"
        if line is None:
            line = chunk.first_line
            problem += f" (in the records from this line to line {chunk.next_line - 1})"
        return BulkFileError(self.label, line, problem)


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def _lit(text: str) -> str:
    """A SQL string literal (the API base comes from configuration)."""
    return "'" + text.replace("'", "''") + "'"


def _url(base: str, resource: str, ref: str) -> str:
    # NULL in, NULL out: || with NULL is NULL.
    return f"{base} || {_lit(resource + '/')} || {ref}::text || '/'"


def _api_timestamp(ref: str) -> str:
    """DRF's rendering of a timestamptz in the session's zone (the API's): microseconds
    only when not zero. One ``to_char`` rather than three; ``.000000`` can
    only be the microseconds, as the offset (``-08:00``) has no dot."""
    return f"replace(to_char({ref}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), '.000000', '')"


def _q(name: str) -> str:
    # Names come from the export catalogue (and a header checked against it), never
    # from free input; quoted all the same.
    return '"' + name.replace('"', '""') + '"'
