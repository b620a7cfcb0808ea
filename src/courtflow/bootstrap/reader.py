"""Streaming reader of an export: bzip2 blocks -> header + chunks of whole CSV records.

The export dialect is PostgreSQL's CSV with ``ESCAPE '\\'`` and ``FORCE_QUOTE *``: every
non-NULL field is quoted, a quote inside a field is ``\\"``, a backslash ``\\\\``, an
unquoted empty field is NULL, and a field may span lines. Records are cut into chunks
at record boundaries without parsing them: after dropping the escape pairs, a newline
ends a record exactly when the quotes before it are even. That is three C-speed passes
over the bytes, so the database (COPY) does the parsing, and a chunk is the unit of one
transaction and of the resume checkpoint (its decompressed byte offset).

    with open_blocks(source) as blocks:
        stream = ExportStream(source.label, blocks)
        header = stream.header()
        for chunk in stream.chunks():
            ...
"""

from __future__ import annotations

import bisect
import bz2
import csv
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from courtflow.errors import BulkFileError

CHUNK_BYTES = 8 << 20
# A record longer than this (or a quote never closed) is refused rather than buffered.
MAX_RECORD_BYTES = 256 << 20

_T = TypeVar("_T")


@dataclass(frozen=True)
class Chunk:
    """Whole records of the file: ``data`` starts at decompressed byte ``offset``, on
    physical line ``first_line`` (1-based, the header is line 1)."""

    data: bytes
    offset: int
    first_line: int

    @property
    def end_offset(self) -> int:
        return self.offset + len(self.data)

    @property
    def next_line(self) -> int:
        return self.first_line + self.data.count(b"\n")


def _unescaped(data: bytes) -> bytes:
    # Backslashes only ever appear as \\ or \" in the dialect; pairs never straddle a
    # newline, so segments that start at a newline are cleaned the same way alone.
    return data.replace(b"\\\\", b"").replace(b'\\"', b"")


def record_end(data: bytes) -> int:
    """Index just after the last newline of ``data`` that ends a record; -1 if none.

    ``data`` must start at a record boundary.
    """
    last = data.rfind(b"\n")
    if last < 0:
        return -1
    odd = _unescaped(data[:last]).count(b'"') % 2
    pos = last
    while odd:
        prev = data.rfind(b"\n", 0, pos)
        if prev < 0:
            return -1
        odd ^= _unescaped(data[prev:pos]).count(b'"') % 2
        pos = prev
    return pos + 1


class Decompressed:
    """bzip2 (single or multi-stream) or plain bytes, with clear errors for bad input."""

    def __init__(self, label: str, blocks: Iterable[bytes], compressed: bool = True) -> None:
        self.label = label
        self.blocks = blocks
        self.compressed = compressed
        self.produced = 0  # decompressed bytes so far
        self.consumed = 0  # compressed bytes handed to the decompressor so far
        self.lines = 0  # newlines so far, to name a line when the stream breaks
        # (decompressed end, compressed end) after each input block: maps a position in
        # the records back to the file's bytes (progress follows what was committed, not
        # what the reader has read ahead). One pair per block read: small.
        self.marks: list[tuple[int, int]] = [(0, 0)]

    def compressed_offset(self, offset: int) -> int:
        """The compressed byte position of decompressed ``offset``, interpolated within
        the input block that produced it (bzip2 decodes whole blocks: a block's worth of
        uncertainty, nothing more)."""
        marks = self.marks  # appended by the reader thread; read a stable prefix
        count = len(marks)
        i = bisect.bisect_left(marks, offset, 0, count, key=lambda m: m[0])
        if i >= count:
            return marks[count - 1][1]
        end_d, end_c = marks[i]
        if i == 0 or end_d == offset:
            return end_c
        start_d, start_c = marks[i - 1]
        return start_c + (end_c - start_c) * (offset - start_d) // max(end_d - start_d, 1)

    def _fail(self, problem: str) -> BulkFileError:
        return BulkFileError(self.label, self.lines + 1, problem)

    def __iter__(self) -> Iterator[bytes]:
        if not self.compressed:
            for block in self.blocks:
                self.consumed += len(block)
                yield self._count(block)
            return
        decomp = bz2.BZ2Decompressor()
        started = False
        for block in self.blocks:
            data = block
            self.consumed += len(block)
            if not block:
                continue
            while data:
                if decomp.eof:
                    data, decomp = decomp.unused_data + data, bz2.BZ2Decompressor()
                    if not data.startswith(b"BZh"):
                        # Trailing bytes after the last stream: not another stream.
                        raise self._fail("unexpected data after the end of the bzip2 stream")
                try:
                    out = decomp.decompress(data)
                except OSError:
                    what = "is corrupt" if started else "is not a bzip2 file"
                    raise self._fail(f"the bzip2 data {what}") from None
                started = True
                data = b""
                if decomp.eof and decomp.unused_data:
                    data, decomp = decomp.unused_data, bz2.BZ2Decompressor()
                if out:
                    yield self._count(out)
        if not started:
            raise self._fail("the file is empty")
        if not decomp.eof:
            raise self._fail(
                "the bzip2 stream is truncated (the file ends before the end-of-stream "
                "marker: an interrupted download?)"
            )

    def _count(self, data: bytes) -> bytes:
        self.produced += len(data)
        self.lines += data.count(b"\n")
        self.marks.append((self.produced, self.consumed))
        return data


class ExportStream:
    """The header and then chunks of whole records of one export file."""

    def __init__(
        self,
        label: str,
        blocks: Iterable[bytes],
        *,
        compressed: bool = True,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.label = label
        self.chunk_bytes = chunk_bytes
        self._source = Decompressed(label, blocks, compressed)
        self._data = iter(self._source)
        self._pending = b""
        self._offset = 0  # decompressed offset of _pending[0]
        self._line = 1

    def header(self) -> list[str]:
        """The header's column names (line 1)."""
        while b"\n" not in self._pending:
            block = next(self._data, None)
            if block is None:
                break
            self._pending += block
            if len(self._pending) > 1 << 20 and b"\n" not in self._pending:
                raise BulkFileError(self.label, 1, "no header line (not a CSV export)")
        line, sep, rest = self._pending.partition(b"\n")
        if not sep and not line:
            raise BulkFileError(self.label, 1, "the file has no header (empty)")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BulkFileError(self.label, 1, f"the header is not UTF-8 ({exc.reason})") \
                from None
        try:
            names = next(csv.reader([text.rstrip("\r")], strict=True))
        except (csv.Error, StopIteration) as exc:
            raise BulkFileError(self.label, 1, f"the header is not CSV ({exc})") from None
        self._pending = rest
        self._offset = len(line) + len(sep)
        self._line = 2
        return names

    def compressed_offset(self, offset: int) -> int:
        """How far into the file (compressed bytes) decompressed ``offset`` lies: what
        progress reports for the records committed up to ``offset``."""
        return self._source.compressed_offset(offset)

    def skip_to(self, offset: int, line: int) -> None:
        """Resume: drop the decompressed bytes before ``offset`` (a saved chunk end)."""
        while self._offset + len(self._pending) < offset:
            block = next(self._data, None)
            if block is None:
                raise BulkFileError(
                    self.label, line, f"the file is shorter than the saved position {offset}"
                )
            self._pending += block
            if self._offset + len(self._pending) < offset:
                self._offset += len(self._pending)
                self._pending = b""
        self._pending = self._pending[offset - self._offset:]
        self._offset, self._line = offset, line

    def chunks(self) -> Iterator[Chunk]:
        """Chunks of about ``chunk_bytes``, each ending at a record boundary.

        Whole chunks are handed out before more input is read, so when the input breaks
        (a truncated download) every complete chunk before the break can be committed.
        """
        data, exhausted = self._pending, False
        while True:
            start = 0
            while len(data) - start >= self.chunk_bytes:
                cut = record_end(data[start:start + self.chunk_bytes])
                if cut <= 0:  # a record longer than a chunk: take it whole
                    cut = record_end(data[start:])
                    if cut <= 0:
                        break
                yield self._chunk(data[start:start + cut])
                start += cut
            rest = data[start:]
            if exhausted:
                if _unescaped(rest).count(b'"') % 2:
                    raise BulkFileError(
                        self.label, self._line + _last_boundary_lines(rest),
                        "a quoted field is never closed before the end of the file "
                        "(broken quoting or a truncated file)",
                    )  # fmt: skip
                if rest:
                    yield self._chunk(rest)
                return
            if len(rest) > MAX_RECORD_BYTES:
                raise BulkFileError(
                    self.label, self._line,
                    "a quoted field that starts on or after this line is never closed "
                    "(broken quoting)",
                )  # fmt: skip
            # At least one more block (rest may be a record longer than a chunk), then
            # enough for a chunk.
            parts, size = [rest], len(rest)
            while True:
                block = next(self._data, None)
                if block is None:
                    exhausted = True
                    break
                parts.append(block)
                size += len(block)
                if size >= self.chunk_bytes:
                    break
            data = b"".join(parts)

    def _chunk(self, data: bytes) -> Chunk:
        chunk = Chunk(data, self._offset, self._line)
        self._offset, self._line = chunk.end_offset, chunk.next_line
        return chunk


def _last_boundary_lines(data: bytes) -> int:
    """Newlines before the record in which an unclosed quote opens (for the message)."""
    end = record_end(data)
    return 0 if end < 0 else data[:end].count(b"\n")


# One field of the dialect: quoted (with backslash escapes) or empty (NULL), then a
# delimiter, a line end or the end of the text.
_FIELD = re.compile(r'(?:"((?:[^"\\]|\\.)*)"|())(,|\r?\n|$)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def parse_records(chunk: Chunk, label: str, width: int) -> Iterator[tuple[int, list[str | None]]]:
    """The chunk's records as (physical line, fields), None for NULL; errors name the line.

    Used where Python handles rows itself (SQLite); PostgreSQL parses with COPY.
    """
    try:
        text = chunk.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = chunk.first_line + chunk.data[: exc.start].count(b"\n")
        raise BulkFileError(
            label, line, f"not UTF-8 (byte 0x{chunk.data[exc.start]:02x}): wrong encoding"
        ) from None
    pos, line, end = 0, chunk.first_line, len(text)
    while pos < end:
        start_line = line
        fields: list[str | None] = []
        while True:
            match = _FIELD.match(text, pos)
            if match is None or (match.end() == pos and pos < end):
                raise BulkFileError(
                    label, line, "broken quoting: a field is neither a quoted value nor NULL"
                )
            quoted, _empty, delim = match.groups()
            if quoted is None:
                fields.append(None)
            else:
                fields.append(_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted)
                line += quoted.count("\n")
            pos = match.end()
            if delim != ",":
                break
        if len(fields) != width:
            raise BulkFileError(
                label, start_line, f"{len(fields)} fields where the header has {width}"
            )
        yield start_line, fields
        line += 1


def prefetch(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """Produce ``items`` in a thread, ``depth`` ahead: bzip2 decompression releases the
    GIL, so it overlaps with the database's work on the previous chunk."""
    q: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((False, None))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

    thread = threading.Thread(target=run, name="courtflow-bulk-reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = q.get()
            if ok:
                yield value  # type: ignore[misc]
                continue
            if isinstance(value, BaseException):
                raise value
            return
    finally:
        stop.set()
        thread.join(timeout=5)
