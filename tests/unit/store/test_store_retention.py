"""Completed windows older than the retention fold into one per loaded range: the table
stays bounded and the loaded ranges (and gaps) read exactly as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from courtflow.store.engine import make_engine
from courtflow.store.migrate import upgrade
from courtflow.store.retention import merge_old_checkpoints
from courtflow.store.state import Checkpoint, list_checkpoints, save_checkpoint

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _union(cps: list[Checkpoint]) -> list[tuple[datetime, datetime]]:
    out: list[list[datetime]] = []
    for cp in sorted(cps, key=lambda c: (c.window_start, c.window_end)):
        if out and cp.window_start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], cp.window_end)
        else:
            out.append([cp.window_start, cp.window_end])
    return [(a, b) for a, b in out]


def test_old_windows_fold_per_range_and_keep_ranges_and_gaps(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    upgrade(engine)
    windows = [(0, 1), (1, 2), (1.5, 3), (3, 4),  # one range [0, 4)
               (6, 7), (7, 8),                    # a gap, then [6, 9)
               (8, 9), (20, 21)]                  # recent ones stay apart
    with engine.begin() as conn:
        for a, b in windows:
            save_checkpoint(conn, Checkpoint("dockets", _h(a), _h(b), None, 1, 10, 1, True), "r")
        save_checkpoint(conn, Checkpoint("dockets", _h(30), _h(31), "http://x/next", 1, 5, 1,
                                         False), "r")  # in progress: never touched
        save_checkpoint(conn, Checkpoint("clusters", _h(0), _h(1), None, 1, 1, 1, True), "r")
        before = list_checkpoints(conn, "dockets")
        removed = merge_old_checkpoints(conn, "dockets", "", before=_h(8.5))
        after = list_checkpoints(conn, "dockets")
        other = list_checkpoints(conn, "clusters")
    assert removed == 4  # [0,4) from four rows to one; [6,8) from two to one
    done_before = [c for c in before if c.done]
    done_after = [c for c in after if c.done]
    assert _union(done_after) == _union(done_before) == [(_h(0), _h(4)), (_h(6), _h(9)),
                                                         (_h(20), _h(21))]  # fmt: skip
    assert sum(c.rows for c in done_after) == sum(c.rows for c in done_before)
    assert [c for c in after if not c.done] == [c for c in before if not c.done]
    assert len(other) == 1
    with engine.begin() as conn:  # again: nothing left to fold
        assert merge_old_checkpoints(conn, "dockets", "", before=_h(8.5)) == 0
