"""Where to place usage made elsewhere in the ledger, from what ``api-usage/`` tells. Pure.

``api-usage/`` reports, per user window, how many calls the server counts (``used``)
and ``reset_at``: when the window next admits one more call (under the limit, when its
oldest call leaves). Not when each call was made. The ledger must never release a call
before the server does, so each call the server counts and the ledger does not is placed
at the LATEST moment it can have been made:

- in the shortest window: now;
- in a longer window, beyond what the shorter windows already account for: just outside
  the next shorter window (``now - shorter period``), since the server would otherwise
  have counted it there too;
- except the window's oldest call, whose time is known (``reset_at - period``) when the
  ledger holds no call of ours that old: it is placed exactly.

By induction over the windows, for any moment ``x`` the ledger then holds at least as
many external calls at or after ``x`` as the server can: nothing leaves too early. The
price is that the rest leave up to a period late (``benchmarks/usage_bench.py``); the
next reconciliation corrects it. At most two rows per window, whatever the counts.

>>> place(now, [ServerWindow(period=60, used=9, limit=10, reset_at=r, ours=0, our_oldest=None)])
[Placement(at=r - 60 s, calls=1), Placement(at=now, calls=8)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ServerWindow:
    """One user window as the server reports it, and what the ledger knows of ours in it.

    ``ours``: our calls the server certainly counts in it (answered before the snapshot
    was asked for, by a status the throttle had admitted). ``our_oldest``: the oldest of
    our calls that may be in it at all (any outcome), None if none.
    """

    period: float
    used: int
    limit: int
    reset_at: datetime | None
    ours: int
    our_oldest: datetime | None


@dataclass(frozen=True)
class Placement:
    at: datetime
    calls: int


def place(now: datetime, windows: Sequence[ServerWindow], margin: float = 0.0) -> list[Placement]:
    """External rows for ``windows`` as of ``now`` (database clock); see the module doc.

    ``margin`` (seconds) widens the test that our oldest call is younger than the server's
    oldest one, for clock skew between the server and the database.
    """
    placed: list[Placement] = []
    shorter = 0.0
    for w in sorted(windows, key=lambda x: x.period):
        need = max(0, w.used - w.ours) - sum(p.calls for p in placed)
        latest = now - timedelta(seconds=shorter)
        if need > 0:
            oldest = _known_oldest(w, latest, margin)
            if oldest is not None:
                placed.append(Placement(oldest, 1))
                need -= 1
        if need > 0:
            placed.append(Placement(latest, need))
        shorter = w.period
    return placed


def _known_oldest(w: ServerWindow, latest: datetime, margin: float) -> datetime | None:
    """The window's oldest call's time if it is certainly not ours and not already placed."""
    if w.reset_at is None or w.limit <= 0 or w.used > w.limit:
        return None  # over the limit, reset_at is a later call's expiry, not the oldest's
    oldest = w.reset_at - timedelta(seconds=w.period)
    if oldest >= latest:
        return None  # inside a shorter window: already accounted for there
    if w.our_oldest is not None and w.our_oldest <= oldest + timedelta(seconds=margin):
        return None  # the oldest call may be one of ours
    return oldest
