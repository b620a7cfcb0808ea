"""Bootstrap: load export files into resource tables, then set each scope's watermark.

Per file: recognise the export (file name or ``resource``), check its header, decide
what the scope keeps, then stream chunks; each chunk's merge and the file's resume point
commit in one transaction, so a kill loses at most the chunk in flight and a rerun
resumes after the last committed one (a finished file is skipped). At the end the
scope's watermark moves to the export's date minus ``overlap`` (never backwards), so the
next API window starts where the export ended. No API call is made or reserved.

On PostgreSQL, ``connections`` chunks are merged at once, each on its own connection
(the merge is one server process per statement: a second one uses the second core).
Commits stay in file order: a chunk saves its checkpoint only after the chunk before it
has committed, and from that chunk's checkpoint, so a saved checkpoint always ends a
contiguous run of committed chunks and no chunk after it is committed. Which of two
versions of a row wins does not depend on commit order (the never-older guard is a
total order on ``date_modified`` and the hash, and ``ON CONFLICT`` waits for and then
sees the other transaction's row). A chunk waiting for its predecessor could hold a row
that predecessor needs (an id in both: exports do not repeat ids, but a file may): the
merge's ``lock_timeout`` breaks that wait, and any chunk that fails or is abandoned
behind a failure is merged again, one at a time on the main connection, where a real
error in the file is raised exactly as in a one-connection load.

    results = bootstrap(engine, ["dockets-2026-10-31.csv.bz2"], BootstrapOptions())
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from courtflow.bootstrap.checkpoint import DONE, FAILED, FileProgress, get_progress, save_progress
from courtflow.bootstrap.deletions import SeenIds, has_rows
from courtflow.bootstrap.exports import EXPORTS, Export, by_resource, recognise
from courtflow.bootstrap.header import check_header
from courtflow.bootstrap.load_pg import PgLoader
from courtflow.bootstrap.load_sqlite import SqliteLoader
from courtflow.bootstrap.progress import Progress
from courtflow.bootstrap.reader import CHUNK_BYTES, Chunk, ExportStream, prefetch
from courtflow.bootstrap.rows import watermark_for
from courtflow.bootstrap.rowscope import RowFilter, local_condition, plan_filters
from courtflow.bootstrap.source import Blocks, Source, open_blocks
from courtflow.catalogue.resources import ResourceSpec, get_resource
from courtflow.catalogue.scope import Scope
from courtflow.config import DEFAULT_BASE_URL
from courtflow.errors import BulkFileError, ConfigError
from courtflow.store.deletions import forget_seen, has_seen
from courtflow.store.state import LOADED_FROM_START, record_range
from courtflow.store.tables import resource_table
from courtflow.store.upsert import count_rows

log = logging.getLogger("courtflow.bootstrap")

# How long a concurrent chunk's merge waits for a row lock before it gives up and is
# merged again alone (see the module docstring): rare, so generous.
CONCURRENT_LOCK_TIMEOUT = "5s"


class Loader(Protocol):
    def prepare(self, conn: Connection) -> None: ...

    def load(self, conn: Connection, chunk: Chunk) -> tuple[int, int]: ...


@dataclass(frozen=True)
class BootstrapOptions:
    resource: str | None = None  # when the file name does not say
    # A filter taking several values has a tuple of them (courtflow.catalogue.filters).
    filters: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    load_all: bool = False  # load every row even when the filters cannot be evaluated
    overlap: timedelta = timedelta(days=1)
    run_id: str | None = None
    force: bool = False  # reload a file already loaded into the scope
    chunk_bytes: int = CHUNK_BYTES
    progress: bool = True
    connections: int = 2  # PostgreSQL: chunks merged at once, one connection each
    # The API base whose links the records carry (resource_uri, court, ...): the one
    # the API path syncs from, so both sources store the same record.
    api_base: str = DEFAULT_BASE_URL


@dataclass(frozen=True)
class FileResult:
    file: str
    resource: str
    scope: str
    export_date: date | None
    rows_read: int
    rows_written: int
    resumed: bool
    skipped: bool  # loaded before: nothing read
    watermark: datetime | None
    deleted: int = 0  # rows of the scope absent from this export, marked deleted
    # Of ``rows_written``, rows the table did not hold: its growth over the load (a bulk
    # load never removes a row; another writer of the table meanwhile counts with it).
    new: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "resource": self.resource, "scope": self.scope,
            "export_date": self.export_date.isoformat() if self.export_date else None,
            "rows_read": self.rows_read, "rows_written": self.rows_written,
            "resumed": self.resumed, "skipped": self.skipped,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "deleted": self.deleted, "new": self.new,
        }  # fmt: skip


@dataclass(frozen=True)
class Target:
    """What one file is: its export, resource, scope and date."""

    source: Source
    export: Export
    spec: ResourceSpec
    scope: Scope
    export_date: date | None


def resolve(location: str, options: BootstrapOptions) -> Target:
    """Recognise the file's export and check the scope; ConfigError/BulkFileError if not."""
    source = Source(location)
    named = recognise(source.name)
    export: Export | None = None
    if options.resource is not None:
        get_resource(options.resource)  # an unknown name fails with the known ones listed
        export = by_resource(options.resource)
        if export is None:
            raise ConfigError(f"resource {options.resource!r} has no bulk export")
        if named is not None and named[0] in EXPORTS and named[0] != export.name:
            raise BulkFileError(
                source.label, None,
                f"the file name says it is the {named[0]!r} export, not {export.name!r} "
                f"(the export of {options.resource})",
            )  # fmt: skip
    elif named is not None and named[0] in EXPORTS:
        export = EXPORTS[named[0]]
    else:
        known = ", ".join(sorted(EXPORTS))
        raise BulkFileError(
            source.label, None,
            "not recognised as a bulk export (<name>-<YYYY-MM-DD>.csv.bz2 with name one of "
            f"{known}); give --resource",
        )  # fmt: skip
    spec = export.spec
    if spec is None:
        raise ConfigError(
            f"{source.label}: the {export.name!r} export holds {export.resource!r}, which the "
            "resource catalogue does not have"
        )
    scope = Scope.of(spec, options.filters)
    return Target(source, export, spec, scope, named[1] if named is not None else None)


def _loader(engine: Engine, target: Target, header: list[str], options: BootstrapOptions,
            filters: Any) -> Loader:  # fmt: skip
    args = (target.export, target.spec, header, filters, target.export_date, options.run_id,
            target.source.label, options.api_base)  # fmt: skip
    if engine.dialect.name == "postgresql":
        return PgLoader(*args)
    if engine.dialect.name == "sqlite":
        return SqliteLoader(*args)
    raise ConfigError(f"bootstrap supports PostgreSQL and SQLite, not {engine.dialect.name}")


def load_file(
    engine: Engine,
    target: Target,
    options: BootstrapOptions,
    *,
    on_chunk: Callable[[int, int, int, int | None], None] | None = None,
) -> FileResult:
    """Load one file into its scope (resuming a partial load); see the module docstring."""
    source, spec, scope = target.source, target.spec, target.scope
    plan = plan_filters(target.export, spec, scope)
    if plan.unusable and not options.load_all:
        raise ConfigError(
            f"{source.label}: the filters {', '.join(plan.unusable)} of scope {scope.label} "
            f"cannot be evaluated on the {target.export.name!r} export (it has no such "
            "columns); nothing loaded. Pass --all to load every row of the file."
        )
    filters = () if options.load_all else plan.usable
    with engine.connect() as conn:
        saved = get_progress(conn, spec.name, scope.key, source.name)
        conn.rollback()
    if saved is not None and saved.status == DONE and not options.force:
        log.info("file already loaded", extra={"event": "bulk_skip", "file": source.name})
        return FileResult(source.name, spec.name, scope.key, target.export_date,
                          0, 0, False, True, None)  # fmt: skip
    fresh = FileProgress(spec.name, scope.key, source.name, source.label, target.export_date,
                         run_id=options.run_id)  # fmt: skip
    resume = saved is not None and saved.status != DONE and saved.byte_offset > 0
    progress = saved if resume and saved is not None else fresh
    progress = replace(progress, status="running", run_id=options.run_id, error=None)
    compressed = not source.name.endswith(".csv")
    try:
        with open_blocks(source) as blocks, engine.connect() as conn:
            stream = ExportStream(source.label, blocks, compressed=compressed,
                                  chunk_bytes=options.chunk_bytes)  # fmt: skip
            header = check_header(target.export, stream.header(), source.label)
            if resume:
                stream.skip_to(progress.byte_offset, progress.line)
            loader = _loader(engine, target, header, options, filters)
            loader.prepare(conn)
            with conn.begin():
                save_progress(conn, progress)
                seen, where = _deletions(conn, target, options, header, filters, resume)
            chunks = _Chunks(engine, conn, loader, progress, on_chunk, blocks, stream)
            chunks.seen = seen
            try:
                workers = options.connections if engine.dialect.name == "postgresql" else 1
                if workers > 1:
                    chunks.concurrently(prefetch(stream.chunks()), workers)
                else:
                    for chunk in prefetch(stream.chunks()):
                        chunks.one(chunk)
            finally:
                progress = chunks.progress
            watermark = None
            deleted = 0
            with conn.begin():
                if target.export_date is not None:
                    watermark = watermark_for(target.export_date, options.overlap)
                    # A full export holds everything modified before its date: one range
                    # from the start of time, merged with what the API has loaded.
                    record_range(conn, spec.name, LOADED_FROM_START, watermark,
                                 options.run_id, scope.key)  # fmt: skip
                    if seen is not None:
                        deleted = seen.finish(conn, watermark, where)
                progress = replace(progress, status=DONE)
                save_progress(conn, progress)
    except BulkFileError as exc:
        with engine.begin() as conn:
            save_progress(conn, replace(progress, status=FAILED, error=str(exc)))
        raise
    return FileResult(source.name, spec.name, scope.key, target.export_date,
                      progress.rows_read, progress.rows_written, resume, False, watermark,
                      deleted)


def _deletions(
    conn: Connection, target: Target, options: BootstrapOptions, header: list[str],
    filters: tuple[RowFilter, ...], resume: bool,
) -> tuple[SeenIds | None, ColumnElement[bool] | None]:  # fmt: skip
    """Whether this load can find deletions (see courtflow.bootstrap.deletions), and the
    condition that picks the scope's rows in the table."""
    spec, scope, name = target.spec, target.scope, target.source.name
    if target.export_date is None or (options.load_all and scope.filters) or "id" not in header:
        return None, None
    try:
        where = local_condition(spec, scope, resource_table(spec)) if scope.filters else None
    except ConfigError as exc:
        log.warning("deletions are not looked for: %s", exc,
                    extra={"event": "bulk_no_deletions", "file": name})  # fmt: skip
        return None, None
    if resume:
        if not has_seen(conn, spec.name, scope.key, name):
            # Loaded before its ids were kept (or into an empty table): no evidence.
            return None, None
    else:
        forget_seen(conn, spec.name, scope.key, name)  # an earlier, abandoned attempt's
        if not has_rows(conn, spec):
            return None, None  # a first load: nothing stored could have been deleted
    seen = SeenIds(target.export, spec, scope.key, name, tuple(header), filters,
                   target.source.label)  # fmt: skip
    return seen, where


def _advance(progress: FileProgress, chunk: Chunk, read: int, written: int) -> FileProgress:
    return replace(
        progress, byte_offset=chunk.end_offset, line=chunk.next_line,
        rows_read=progress.rows_read + read, rows_written=progress.rows_written + written,
    )  # fmt: skip


class _Slot:
    """A chunk handed to a worker connection, and how its transaction ended.

    Mutable on purpose: the worker fills it in and the next chunk's worker waits on
    ``finished`` for it.
    """

    def __init__(self, chunk: Chunk | None, prev: _Slot | None,
                 committed: FileProgress | None = None) -> None:  # fmt: skip
        self.chunk, self.prev = chunk, prev
        self.progress = committed  # the checkpoint committed with the chunk
        self.finished = threading.Event()
        if committed is not None:
            self.finished.set()


class _Abandoned(Exception):
    """The chunk before failed: this one rolls back and is merged again in order."""


class _Chunks:
    """Commits a file's chunks in order; ``progress`` is the last committed checkpoint."""

    def __init__(self, engine: Engine, conn: Connection, loader: Loader,
                 progress: FileProgress, on_chunk: Callable[[int, int, int, int | None], None]
                 | None, blocks: Blocks, stream: ExportStream) -> None:  # fmt: skip
        self.engine, self.conn, self.loader = engine, conn, loader
        self.progress, self.on_chunk, self.blocks = progress, on_chunk, blocks
        self.stream = stream
        self.seen: SeenIds | None = None  # records each chunk's ids, when deletions are looked for

    def _committed(self, progress: FileProgress) -> None:
        self.progress = progress
        if self.on_chunk is not None:
            # The share of the file behind the committed records, not what the reader
            # has read ahead (prefetch, chunks in flight, a whole 1 MB block at a time).
            done = self.stream.compressed_offset(progress.byte_offset)
            self.on_chunk(progress.rows_read, progress.rows_written, done, self.blocks.size)

    def one(self, chunk: Chunk) -> None:
        """Merge and checkpoint one chunk on the main connection."""
        with self.conn.begin():
            read, written = self.loader.load(self.conn, chunk)
            if self.seen is not None:
                self.seen.record(self.conn, chunk)
            progress = _advance(self.progress, chunk, read, written)
            save_progress(self.conn, progress)
        self._committed(progress)

    def concurrently(self, chunks: Iterator[Chunk], workers: int) -> None:
        """Up to ``workers`` chunks in flight, each on its own connection."""
        local = threading.local()
        opened: list[Connection] = []
        guard = threading.Lock()

        def connection() -> Connection:
            conn: Connection | None = getattr(local, "conn", None)
            if conn is None:
                conn = self.engine.connect()
                with guard:
                    opened.append(conn)
                self.loader.prepare(conn)
                local.conn = conn
            return conn

        def work(slot: _Slot) -> None:
            assert slot.chunk is not None and slot.prev is not None
            try:
                conn = connection()
                with conn.begin():
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{CONCURRENT_LOCK_TIMEOUT}'")
                    read, written = self.loader.load(conn, slot.chunk)
                    if self.seen is not None:
                        self.seen.record(conn, slot.chunk)
                    slot.prev.finished.wait()
                    before = slot.prev.progress
                    if before is None:
                        raise _Abandoned
                    progress = _advance(before, slot.chunk, read, written)
                    save_progress(conn, progress)
                slot.progress = progress
            finally:
                slot.finished.set()

        inflight: deque[tuple[_Slot, Future[None]]] = deque()
        tail = _Slot(None, None, self.progress)

        def settle() -> _Slot:
            """Wait for the oldest chunk in flight; on failure redo it and the rest."""
            slot, future = inflight.popleft()
            if future.exception() is None and slot.progress is not None:
                self._committed(slot.progress)
                return tail
            # Every later chunk in flight rolls back (its predecessor did not commit).
            redo = [slot.chunk, *(s.chunk for s, _ in inflight)]
            for _, later in inflight:
                later.exception()
            inflight.clear()
            log.info("merging chunks again one at a time",
                     extra={"event": "bulk_redo", "error": str(future.exception())})
            for chunk in redo:
                assert chunk is not None
                self.one(chunk)
            return _Slot(None, None, self.progress)

        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="courtflow-bulk-merge") as pool:
                failure: BaseException | None = None
                while True:
                    try:
                        chunk = next(chunks)
                    except StopIteration:
                        break
                    except BaseException as exc:  # the reader broke: commit what came before
                        failure = exc
                        break
                    while len(inflight) >= workers:
                        tail = settle()
                    slot = _Slot(chunk, tail)
                    inflight.append((slot, pool.submit(work, slot)))
                    tail = slot
                while inflight:
                    tail = settle()
                if failure is not None:
                    raise failure
        except BaseException:
            # Leaving early (an error of ours, an interrupt): the chunks still in flight
            # end first, and ``progress`` is the checkpoint of the last one committed,
            # so a failed load's saved position is never behind a committed chunk.
            for slot, future in inflight:
                future.exception()
                if slot.progress is not None:
                    self.progress = slot.progress
            raise
        finally:
            for conn in opened:
                conn.close()


def bootstrap(
    engine: Engine, locations: Sequence[str], options: BootstrapOptions
) -> list[FileResult]:
    """Load every file in order; every file is checked before the first is loaded."""
    if not locations:
        raise ConfigError("bootstrap needs at least one --file")
    targets = [resolve(location, options) for location in locations]
    results = []
    for target in targets:
        shown = Progress(target.source.name, None) if options.progress else None
        with engine.connect() as conn:
            before = count_rows(conn, target.spec)
        result = load_file(engine, target, options,
                           on_chunk=shown.update if shown is not None else None)  # fmt: skip
        if shown is not None:
            shown.finish()
        with engine.connect() as conn:
            results.append(replace(result, new=count_rows(conn, target.spec) - before))
    return results
