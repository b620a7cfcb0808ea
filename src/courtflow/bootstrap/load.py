"""Bootstrap: load export files into resource tables, then set each scope's watermark.

Per file: recognise the export (file name or ``resource``), check its header, decide
what the scope keeps, then stream chunks; each chunk's merge and the file's resume point
commit in one transaction, so a kill loses at most the chunk in flight and a rerun
resumes after the last committed one (a finished file is skipped). At the end the
scope's watermark moves to the export's date minus ``overlap`` (never backwards), so the
next API window starts where the export ended. No API call is made or reserved.

    results = bootstrap(engine, ["dockets-2026-10-31.csv.bz2"], BootstrapOptions())
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from courtflow.bootstrap.checkpoint import DONE, FAILED, FileProgress, get_progress, save_progress
from courtflow.bootstrap.exports import EXPORTS, Export, by_resource, recognise
from courtflow.bootstrap.header import check_header
from courtflow.bootstrap.load_pg import PgLoader
from courtflow.bootstrap.load_sqlite import SqliteLoader
from courtflow.bootstrap.progress import Progress
from courtflow.bootstrap.reader import CHUNK_BYTES, Chunk, ExportStream, prefetch
from courtflow.bootstrap.rows import watermark_for
from courtflow.bootstrap.rowscope import plan_filters
from courtflow.bootstrap.source import Source, open_blocks
from courtflow.errors import BulkFileError, ConfigError
from courtflow.resources import ResourceSpec, get_resource
from courtflow.scope import Scope
from courtflow.store.state import advance_watermark

log = logging.getLogger("courtflow.bootstrap")


class Loader(Protocol):
    def prepare(self, conn: Connection) -> None: ...

    def load(self, conn: Connection, chunk: Chunk) -> tuple[int, int]: ...


@dataclass(frozen=True)
class BootstrapOptions:
    resource: str | None = None  # when the file name does not say
    filters: Mapping[str, str] = field(default_factory=dict)
    load_all: bool = False  # load every row even when the filters cannot be evaluated
    overlap: timedelta = timedelta(days=1)
    run_id: str | None = None
    force: bool = False  # reload a file already loaded into the scope
    chunk_bytes: int = CHUNK_BYTES
    progress: bool = True


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "resource": self.resource, "scope": self.scope,
            "export_date": self.export_date.isoformat() if self.export_date else None,
            "rows_read": self.rows_read, "rows_written": self.rows_written,
            "resumed": self.resumed, "skipped": self.skipped,
            "watermark": self.watermark.isoformat() if self.watermark else None,
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
            target.source.label)  # fmt: skip
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
            for chunk in prefetch(stream.chunks()):
                with conn.begin():
                    read, written = loader.load(conn, chunk)
                    progress = replace(
                        progress, byte_offset=chunk.end_offset, line=chunk.next_line,
                        rows_read=progress.rows_read + read,
                        rows_written=progress.rows_written + written,
                    )  # fmt: skip
                    save_progress(conn, progress)
                if on_chunk is not None:
                    on_chunk(progress.rows_read, progress.rows_written, blocks.read, blocks.size)
            watermark = None
            with conn.begin():
                if target.export_date is not None:
                    watermark = watermark_for(target.export_date, options.overlap)
                    advance_watermark(conn, spec.name, watermark, options.run_id, scope.key)
                progress = replace(progress, status=DONE)
                save_progress(conn, progress)
    except BulkFileError as exc:
        with engine.begin() as conn:
            save_progress(conn, replace(progress, status=FAILED, error=str(exc)))
        raise
    return FileResult(source.name, spec.name, scope.key, target.export_date,
                      progress.rows_read, progress.rows_written, resume, False, watermark)


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
        result = load_file(engine, target, options,
                           on_chunk=shown.update if shown is not None else None)  # fmt: skip
        if shown is not None:
            shown.finish()
        results.append(result)
    return results
