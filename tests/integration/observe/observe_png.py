"""A minimal PNG reader (8-bit grey/RGB/RGBA, not interlaced) for pixel statistics.

Enough for Chromium's screenshots; stdlib only (zlib + struct), no Pillow.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered scanlines

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        start = x * self.channels
        return tuple(self.rows[y][start : start + self.channels])


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 2:  # Up
        return bytes((x + p) & 0xFF for x, p in zip(line, prev, strict=True))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:  # Sub
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:  # Average
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            up_left = prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + _paeth(left, prev[i], up_left)) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")
    return bytes(line)


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour {colour}, interlace {interlace}")
    channels = _CHANNELS[colour]
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        prev = _unfilter(raw[start], line, prev, channels)
        rows.append(prev)
    return Image(width, height, channels, rows)


def colour_stats(image: Image, step: int = 4) -> tuple[float, Counter[tuple[int, ...]]]:
    """(fraction of sampled pixels that are not the most common colour, colour counts)."""
    counts: Counter[tuple[int, ...]] = Counter()
    for y in range(0, image.height, step):
        row = image.rows[y]
        for x in range(0, image.width, step):
            s = x * image.channels
            counts[tuple(row[s : s + 3])] += 1
    total = sum(counts.values())
    (_, top), = counts.most_common(1)
    return 1.0 - top / total, counts
