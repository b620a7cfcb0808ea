"""Exports for the bootstrap tests: hostile values in CourtListener's exact export dialect."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from courtflow.bootstrap.exports import EXPORTS
from courtflow.sandbox.bulk import export_rows, write_export

# Every value the dialect must survive: quotes, backslashes (alone, doubled, before a
# quote, at the end), delimiters, line breaks inside a field (a field that is only a
# line break, one that looks like a record boundary), non-ASCII, empty text (not NULL).
HOSTILE: tuple[str, ...] = (
    'say "hello"', "back\\slash", "\\", "\\\\", '\\"', 'ends with \\', '"', '""', ",",
    '","', "two\nlines", "\n", '"\n"', "crlf\r\nline", 'x"\n"123","', "tab\there",
    "Curaçao — ñ 中文 ✓ 🏛", "", "  padded  ", "a,b,\"c\"\n,\n", "\\N", "NULL",
)  # fmt: skip


def hostile_dockets(n: int, *, seed: int = 7, start_id: int = 1) -> list[dict[str, Any]]:
    """API-shaped docket records (Pacific timestamps, as the server renders them)."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        modified = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 50), microseconds=i)
        pick = HOSTILE[i % len(HOSTILE)]
        out.append({
            "id": start_id + i,
            "date_created": (modified - timedelta(days=3)).isoformat(),
            "date_modified": modified.astimezone().isoformat(),
            "court_id": rng.choice(["scotus", "ca9", "nysd"]),
            "docket_number": pick if i % 3 else f"{i}-cv-{pick}",
            "case_name": f"{pick} v. {HOSTILE[(i * 7) % len(HOSTILE)]}",
            "date_filed": None if i % 5 == 0 else (base.date() - timedelta(days=i)).isoformat(),
            "date_terminated": None,
            "source": i % 4,
            "pacer_case_id": None if i % 2 else str(1000 + i),
            "blocked": bool(i % 2),
            "view_count": i,
            "nature_of_suit": pick,
        })  # fmt: skip
    return out


def write_dockets(path: Path, records: list[dict[str, Any]], *, compresslevel: int = 9) -> Path:
    export = EXPORTS["dockets"]
    write_export(path, export, export_rows(export, records), compresslevel=compresslevel)
    return path
