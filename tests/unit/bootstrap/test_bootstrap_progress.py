"""The bootstrap's progress lines and the CLI's --overlap."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from courtflow.bootstrap.progress import Progress
from courtflow.cli import parse_overlap
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
    assert parse_overlap("1d") == timedelta(days=1)
    assert parse_overlap("12h") == timedelta(hours=12)
    assert parse_overlap("0") == timedelta(0)
    with pytest.raises(FatalError, match="--overlap"):
        parse_overlap("soon")
