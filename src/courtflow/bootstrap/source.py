"""Where an export's bytes come from: a local file or an http(s) URL, read in blocks.

Nothing is held whole: a local file is read block by block, a URL streamed. ``size`` is
the compressed size when known (file size, Content-Length), for the progress display.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

import httpx

from courtflow.errors import BulkFileError

BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class Source:
    """A path or URL as given, and the file name the export is recognised by."""

    location: str

    @property
    def is_url(self) -> bool:
        return urlparse(self.location).scheme in ("http", "https")

    @property
    def name(self) -> str:
        if self.is_url:
            return unquote(urlparse(self.location).path.rsplit("/", 1)[-1])
        return Path(self.location).name

    @property
    def label(self) -> str:
        """For messages: the path, or the URL without its query (which may hold a key)."""
        if self.is_url:
            parsed = urlparse(self.location)
            return f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
        return self.location


@dataclass
class Blocks:
    """Compressed blocks of a source, with how many bytes were read so far."""

    size: int | None
    _iter: Iterator[bytes]
    read: int = 0

    def __iter__(self) -> Iterator[bytes]:
        for block in self._iter:
            self.read += len(block)
            yield block


def _file_blocks(handle: IO[bytes]) -> Iterator[bytes]:
    while block := handle.read(BLOCK_BYTES):
        yield block


@contextmanager
def open_blocks(source: Source, *, timeout: float = 60.0) -> Iterator[Blocks]:
    """The compressed bytes of ``source`` as blocks; BulkFileError if it cannot be read."""
    if not source.is_url:
        try:
            handle = open(source.location, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise BulkFileError(source.label, None, f"cannot open: {exc.strerror}") from None
        with handle:
            yield Blocks(os.fstat(handle.fileno()).st_size, _file_blocks(handle))
        return
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client, client.stream(
            "GET", source.location
        ) as response:
            if response.status_code != 200:
                raise BulkFileError(
                    source.label, None, f"download failed: HTTP {response.status_code}"
                )
            length = response.headers.get("content-length")
            encoded = response.headers.get("content-encoding")
            size = int(length) if length and length.isdigit() and not encoded else None
            yield Blocks(size, response.iter_bytes(BLOCK_BYTES))
    except httpx.HTTPError as exc:
        raise BulkFileError(source.label, None, f"download failed: {type(exc).__name__}") \
            from None
