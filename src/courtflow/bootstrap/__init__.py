"""First load from CourtListener's bulk CSV exports, then the API from the watermark.

    engine = make_engine(url); upgrade(engine)
    results = bootstrap(engine, ["dockets-2026-10-31.csv.bz2"], BootstrapOptions())

Modules: ``exports`` (the catalogue of export files), ``source`` (local file or URL),
``reader`` (bzip2 stream -> header + chunks of whole records), ``header`` (the file's
columns against the export's), ``rowscope`` (a scope's filters on the file's columns),
``rows`` (export row -> table row: JSON record, typed columns, hash), ``load_pg`` (COPY +
merge), ``load_sqlite`` (batched upserts), ``checkpoint`` (per-file resume point),
``progress`` (rows/s and ETA), ``load`` (the whole run).
"""

from courtflow.bootstrap.load import BootstrapOptions, FileResult, bootstrap

__all__ = ["BootstrapOptions", "FileResult", "bootstrap"]
