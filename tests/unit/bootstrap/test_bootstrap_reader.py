"""The export reader: record boundaries, NULLs, hostile values, and errors naming lines."""

from __future__ import annotations

import bz2
import io

import pytest

from bulk_support import HOSTILE
from courtflow.bootstrap.reader import Chunk, ExportStream, parse_records, record_end
from courtflow.errors import BulkFileError
from courtflow.sandbox.bulk import field, line

HEADER = '"id","a","b"\n'


def _rows(n: int) -> list[list[object]]:
    return [[i, HOSTILE[i % len(HOSTILE)], None if i % 4 == 0 else HOSTILE[-i % len(HOSTILE)]]
            for i in range(n)]  # fmt: skip


def _text(rows: list[list[object]]) -> str:
    return HEADER + "".join(line(r) for r in rows)


def _blocks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def _read_all(data: bytes, *, compressed: bool, chunk_bytes: int, block: int = 7) -> list[list]:
    stream = ExportStream("f.csv.bz2", _blocks(data, block), compressed=compressed,
                          chunk_bytes=chunk_bytes)  # fmt: skip
    assert stream.header() == ["id", "a", "b"]
    out = []
    for chunk in stream.chunks():
        out.extend(fields for _line, fields in parse_records(chunk, "f", 3))
    return out


def test_field_quotes_everything_and_escapes_with_backslash() -> None:
    assert field(None) == ""
    assert field("") == '""'
    assert field('a"b\\c') == '"a\\"b\\\\c"'
    assert field(True) == '"t"'


@pytest.mark.parametrize("chunk_bytes", [1, 13, 64, 1 << 20])
def test_chunks_cut_at_record_boundaries_whatever_the_size(chunk_bytes: int) -> None:
    rows = _rows(120)
    data = _text(rows).encode("utf-8")
    got = _read_all(bz2.compress(data), compressed=True, chunk_bytes=chunk_bytes)
    assert got == [[str(r[0]), r[1], r[2]] for r in rows]


def test_null_is_the_unquoted_empty_field_and_empty_text_stays_text() -> None:
    data = (HEADER + '"1",,""\n"2","",\n').encode()
    got = _read_all(data, compressed=False, chunk_bytes=4)
    assert got == [["1", None, ""], ["2", "", None]]


def test_record_end_ignores_newlines_inside_quotes() -> None:
    data = b'"1","a\nb"\n"2","\\"\n\\""\n"3","x'
    end = record_end(data)
    assert data[:end] == b'"1","a\nb"\n"2","\\"\n\\""\n'


def test_truncated_bz2_names_the_line_reached() -> None:
    # Small bzip2 blocks (100 kB), so the first half of the file decompresses.
    data = bz2.compress(_text(_rows(20000)).encode(), compresslevel=1)
    stream = ExportStream("dockets-2026-01-01.csv.bz2", _blocks(data[: len(data) // 2], 4096),
                          chunk_bytes=1 << 30)  # fmt: skip
    stream.header()
    with pytest.raises(BulkFileError, match="truncated") as info:
        list(stream.chunks())
    assert info.value.file == "dockets-2026-01-01.csv.bz2"
    assert info.value.line is not None and info.value.line > 2


def test_not_bzip2_is_refused_at_line_1() -> None:
    stream = ExportStream("x.csv.bz2", [HEADER.encode()])
    with pytest.raises(BulkFileError, match="not a bzip2 file") as info:
        stream.header()
    assert info.value.line == 1


def test_unclosed_quote_at_end_names_the_record_line() -> None:
    data = (HEADER + '"1","a","b"\n"2","broken,"c"\n"3","x","y"\n').encode()
    stream = ExportStream("f.csv", [data], compressed=False)
    stream.header()
    with pytest.raises(BulkFileError, match="never closed") as info:
        list(stream.chunks())
    assert info.value.line == 3


def test_stray_quote_is_broken_quoting_with_its_line() -> None:
    chunk = Chunk(b'"1","a","b"\n"2","a"x","b"\n', 0, 2)
    with pytest.raises(BulkFileError, match="broken quoting") as info:
        list(parse_records(chunk, "f.csv", 3))
    assert info.value.line == 3


def test_wrong_encoding_names_the_line() -> None:
    chunk = Chunk(b'"1","a","b"\n"2","two\nlines","x"\n"3","caf' + b'\xe9","b"\n', 0, 2)
    with pytest.raises(BulkFileError, match="UTF-8") as info:
        list(parse_records(chunk, "f.csv", 3))
    assert info.value.line == 5


def test_wrong_field_count_names_the_line() -> None:
    chunk = Chunk(b'"1","a","b"\n"2","a"\n', 0, 10)
    with pytest.raises(BulkFileError, match="2 fields where the header has 3") as info:
        list(parse_records(chunk, "f.csv", 3))
    assert info.value.line == 11


def test_resume_skips_to_a_saved_offset() -> None:
    rows = _rows(50)
    data = _text(rows).encode()
    first = ExportStream("f", [data], compressed=False, chunk_bytes=100)
    first.header()
    chunks = list(first.chunks())
    cut = chunks[2]
    again = ExportStream("f", _blocks(data, 33), compressed=False, chunk_bytes=100)
    again.header()
    again.skip_to(cut.offset, cut.first_line)
    rest = list(again.chunks())
    assert b"".join(c.data for c in rest) == b"".join(c.data for c in chunks[2:])
    assert rest[0].first_line == cut.first_line


def test_multistream_bzip2_is_read_whole() -> None:
    text = _text(_rows(30)).encode()
    half = len(HEADER) + 200
    data = bz2.compress(text[:half]) + bz2.compress(text[half:])
    assert len(_read_all(data, compressed=True, chunk_bytes=50)) == 30


def test_sandbox_writer_round_trips_through_the_csv_module_reference() -> None:
    # Python's csv module with the same dialect reads back every hostile value.
    import csv

    text = _text(_rows(40))
    reader = csv.reader(io.StringIO(text, newline=""), escapechar="\\", doublequote=False,
                        strict=True)  # fmt: skip
    parsed = list(reader)[1:]
    assert [r[1] for r in parsed] == [r[1] for r in _rows(40)]
