"""The bootstrap's progress lines and the CLI's --overlap."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from courtflow.bootstrap.progress import Progress
from courtflow.config import parse_duration
from courtflow.errors import FatalError


def test_plain_progress_lines_show_rate_share_and_eta() -> None:
    out = io.StringIO()  # not a terminal: plain lines, at most one per interval
    progress = Progress("dockets-2026-10-31.csv.bz2", None, stream=out, interval=0.0)
    progress.update(1000, 900, 250, 1000)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert "1,000 rows (900 written)" in lines[0] and "rows/s" in lines[0]
    assert "25%" in lines[0] and "eta " in lines[0]


def test_overlap_durations() -> None:
    assert parse_duration("1d", "--overlap") == timedelta(days=1)
    assert parse_duration("12h", "--overlap") == timedelta(hours=12)
    assert parse_duration("0", "--overlap") == timedelta(0)
    with pytest.raises(FatalError, match="--overlap"):
        parse_duration("soon", "--overlap")


def _export(rows: int) -> bytes:
    import bz2
    import random

    from courtflow.bootstrap.exports import EXPORTS
    from courtflow.sandbox.bulk import line

    rng = random.Random(5)
    export = EXPORTS["opinion-clusters"]
    header = ",".join(f'"{n}"' for n in export.column_names) + "\n"
    body = "".join(
        line([i, None, None, *("".join(rng.choices("abcdefghij ", k=rng.randrange(5, 60)))
                               for _ in export.columns[3:])])
        for i in range(rows)
    )  # fmt: skip
    return bz2.compress((header + body).encode(), compresslevel=1)


@pytest.mark.parametrize("block", [1 << 20, 4096])
def test_compressed_position_follows_the_records_not_the_read_ahead(block: int) -> None:
    from courtflow.bootstrap.reader import ExportStream

    blob = _export(2000)
    pieces = [blob[i:i + block] for i in range(0, len(blob), block)]
    stream = ExportStream("f.csv.bz2", iter(pieces), chunk_bytes=32 << 10)
    stream.header()
    chunks = list(stream.chunks())  # read everything first: the worst read-ahead
    assert len(chunks) >= 10
    total = chunks[-1].end_offset
    shares = [stream.compressed_offset(c.end_offset) / len(blob) for c in chunks]
    assert shares == sorted(shares) and shares[-1] == 1.0
    for chunk, share in zip(chunks, shares, strict=True):
        # bzip2 decodes whole blocks (about 100 kB of input at level 1): within that.
        assert abs(share - chunk.end_offset / total) < 0.1, (chunk.end_offset, share)
    half = chunks[len(chunks) // 2]
    assert 0.35 < stream.compressed_offset(half.end_offset) / len(blob) < 0.65
