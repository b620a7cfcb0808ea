"""First load from a bulk export vs a raw COPY of the same file vs the API's ceiling.

    .venv/bin/python -m benchmarks.bootstrap_bench [--rows 1000000]

Side by side, on one synthetic ``dockets-<date>.csv.bz2`` in the exact export dialect
(every field quoted, backslash escapes, NULLs, Pacific timestamps):

(a) ``courtflow bootstrap``'s path into an empty, migrated target: bzip2 streamed and
    cut into chunks, COPY into the staging table, merge into ``cl_dockets`` (typed
    columns, JSON record, content hash, indexes) with the never-older guard, one
    transaction and one resume checkpoint per chunk;
(b) a raw ``COPY`` of the same file, decompressed beforehand (not timed), into a plain
    table of the export's columns without indexes: the floor for loading at all;
(c) the API path's ceiling under a 5,000/hour budget: 20 rows a call, 100,000 rows/hour.

(b) runs before and after (a); its mean is the baseline. Target: (a) at least half of
(b)'s rows/s. The file is kept in $TMPDIR/courtflow-bench for reruns. The database is
COURTFLOW_BENCH_PG_URL, or a fresh one created on 127.0.0.1:5432 and dropped after.
"""

from __future__ import annotations

import argparse
import bz2
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from benchmarks.budget_support import scratch_pg
from courtflow.bootstrap import BootstrapOptions, bootstrap
from courtflow.bootstrap.exports import EXPORTS
from courtflow.bootstrap.load_pg import _STAGE_TYPES
from courtflow.sandbox.bulk import line
from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade

EXPORT = EXPORTS["dockets"]
API_ROWS_PER_HOUR = 5000 * 20
COURTS = ("scotus", "ca1", "ca2", "ca9", "cadc", "nysd", "cand", "txsd", "ilnd", "dcd")
T0 = datetime(2015, 1, 1, tzinfo=UTC)


def synthetic_rows(n: int, seed: int = 17) -> Iterator[list[object]]:
    """Docket rows shaped like the real export: ids, dates, names, many empty fields."""
    rng = random.Random(seed)
    names = [f"{a} v. {b}" for a in ("Smith", "Doe", "United States", "Acme Corp.", "Müller")
             for b in ("Jones", "Roe", "O'Brien", 'the "Board"', "State of Texas")]  # fmt: skip
    columns = EXPORT.column_names
    for i in range(1, n + 1):
        modified = T0 + timedelta(seconds=rng.randrange(0, 10 * 365 * 86400),
                                  microseconds=rng.randrange(1_000_000))  # fmt: skip
        created = modified - timedelta(days=rng.randrange(0, 400))
        filed = (created - timedelta(days=rng.randrange(0, 30))).date().isoformat()
        name = names[i % len(names)]
        number = f"{rng.randrange(1, 25)}:{rng.randrange(10, 25)}-cv-{rng.randrange(1, 99999):05d}"
        values = {
            "id": i, "date_created": created, "date_modified": modified,
            "source": rng.randrange(0, 16), "case_name": name, "case_name_short": name[:12],
            "case_name_full": f"{name}, et al.", "slug": name.lower().replace(" ", "-")[:50],
            "docket_number": number, "docket_number_core": number.replace(":", "")[:10],
            "pacer_case_id": str(rng.randrange(10_000, 999_999)) if i % 3 else None,
            "court_id": COURTS[i % len(COURTS)], "date_filed": filed,
            "date_terminated": None if i % 4 else filed, "nature_of_suit": "Civil Rights",
            "cause": "28:1331 Federal Question", "jury_demand": "Plaintiff",
            "view_count": rng.randrange(0, 500), "blocked": i % 50 == 0,
            "ia_upload_failure_count": None, "docket_number_source": 0,
        }  # fmt: skip
        yield [values.get(c, "" if c.endswith("_str") or c.startswith("filepath") else None)
               for c in columns]  # fmt: skip


def export_file(rows: int, folder: Path) -> Path:
    """The bz2 export (made once and kept) and its decompressed copy."""
    path = folder / f"r{rows}" / "dockets-2026-10-31.csv.bz2"
    plain = path.with_suffix("")
    if path.exists() and plain.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    header = ",".join(f'"{n}"' for n in EXPORT.column_names) + "\n"
    with open(plain, "w", encoding="utf-8", newline="") as out:
        out.write(header)
        for row in synthetic_rows(rows):
            out.write(line(row))
    with open(plain, "rb") as src, bz2.open(path, "wb", compresslevel=9) as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    print(f"made {path} ({path.stat().st_size / 1e6:.0f} MB bz2, "
          f"{plain.stat().st_size / 1e6:.0f} MB csv) in {time.monotonic() - started:.0f}s")
    return path


def raw_copy(url: str, plain: Path) -> float:
    """Seconds to COPY the decompressed file into a fresh plain table."""
    engine = create_engine(url, poolclass=NullPool)
    columns = ", ".join(f'"{c.name}" {_STAGE_TYPES[c.type]}' for c in EXPORT.columns)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS raw_dockets")
        conn.exec_driver_sql(f"CREATE TABLE raw_dockets ({columns})")
    started = time.monotonic()
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with open(plain, "rb") as src, cursor.copy(
            "COPY raw_dockets FROM STDIN WITH (FORMAT csv, HEADER, ESCAPE '\\', ENCODING 'UTF8')"
        ) as copy:
            while block := src.read(1 << 20):
                copy.write(block)
    seconds = time.monotonic() - started
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE raw_dockets")
    engine.dispose()
    return seconds


def courtflow_load(url: str, path: Path) -> tuple[float, int]:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE cl_dockets, bulk_loads, sync_watermarks"))
    started = time.monotonic()
    [result] = bootstrap(engine, [str(path)], BootstrapOptions(progress=False, run_id="bench"))
    return time.monotonic() - started, result.rows_written


@contextmanager
def database() -> Iterator[str]:
    given = os.environ.get("COURTFLOW_BENCH_PG_URL")
    if given:
        yield given
        return
    with scratch_pg("cfbulk") as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.gettempdir()) / "courtflow-bench"
    path = export_file(args.rows, folder)
    plain = path.with_suffix("")
    with database() as url:
        raw_before = raw_copy(url, plain)
        seconds, written = courtflow_load(url, path)
        raw_after = raw_copy(url, plain)
    if written != args.rows:
        print(f"error: {written} rows written, expected {args.rows}")
        return 1
    raw = (raw_before + raw_after) / 2
    ours, floor = args.rows / seconds, args.rows / raw
    api = API_ROWS_PER_HOUR / 3600
    print(f"\n{args.rows:,} docket rows, {path.stat().st_size / 1e6:.0f} MB bz2, "
          f"{plain.stat().st_size / 1e6:.0f} MB csv")  # fmt: skip
    print(f"{'path':<58} {'seconds':>8} {'rows/s':>10} {'vs raw COPY':>12}")
    table = [
        ("(a) courtflow bootstrap: bz2 -> COPY -> merge (empty table)", seconds, ours),
        (f"(b) raw COPY of the decompressed file (runs {raw_before:.1f}s, {raw_after:.1f}s)",
         raw, floor),
        ("(c) API path ceiling at 5,000/hour (20 rows per call)", args.rows / api, api),
    ]  # fmt: skip
    for label, secs, rate in table:
        print(f"{label:<58} {secs:>8.1f} {rate:>10,.0f} {rate / floor:>11.2f}x")
    verdict = "met" if ours >= floor / 2 else "NOT met"
    print(f"\ntarget (a) >= half of (b): {verdict} ({ours / floor:.2f}x); "
          f"(a) is {ours / api:,.0f}x the API ceiling: {args.rows:,} rows in "
          f"{seconds / 60:.1f} min instead of {args.rows / API_ROWS_PER_HOUR:.0f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
