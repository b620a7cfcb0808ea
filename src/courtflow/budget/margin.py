"""The safety margin learned from the ledger's own timings.

The margin widens every window to cover the way from a reservation to the moment the
server counts the call. A call reserved at ``t`` that the server counts ``d`` later
is released by us at ``t + period + margin`` and by the server at ``t + d + period``;
the next call, reserved then, reaches the server ``d'`` later. The server never
refuses it when ``margin >= d - d'``: the margin must cover the *spread* of the delay,
not the delay itself.

The ledger bounds each reported call's delay: the server counted it after it was sent
and before its report, so ``reported - reserved - duration <= d <= reported - reserved``.
The spread is at most the highest upper bound less the lowest lower bound over recent
calls; that, with some slack, kept within a floor and a ceiling, is the margin.

>>> learned_margin(conn, key, floor=0.05, ceiling=1.0)   # doctest: +SKIP
0.083
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, select

from courtflow.budget.tables import EXTERNAL, RESERVED, api_call_ledger

DEFAULT_FLOOR: Final = 0.05
DEFAULT_CEILING: Final = 1.0
SAMPLE: Final = 256  # recent reported calls looked at
MIN_SAMPLES: Final = 5  # fewer: not enough evidence, use the ceiling
SLACK: Final = 1.25  # on top of the observed spread
SLACK_SECONDS: Final = 0.02


@dataclass(frozen=True)
class MarginPolicy:
    """A fixed margin (``learn=False``: ``ceiling`` is the margin) or one learned in range."""

    learn: bool = False
    floor: float = DEFAULT_FLOOR
    ceiling: float = DEFAULT_CEILING

    @classmethod
    def fixed(cls, seconds: float) -> MarginPolicy:
        return cls(False, seconds, seconds)


def spread_of(samples: Sequence[tuple[float, float]]) -> float:
    """The spread bound of ``(upper, lower)`` delay bounds: max upper less min lower.

    With 100 samples or more the extreme 1% at either end is dropped: one call stalled
    in a thread should not cost every later call a second. Such a call was reported,
    and a reported call counts from its report (``seqlog.counted_from``), so it cannot
    cause a 429 itself.
    """
    if not samples:
        return 0.0
    uppers = sorted(u for u, _ in samples)
    lowers = sorted(lo for _, lo in samples)
    trim = len(samples) // 100 if len(samples) >= 100 else 0
    return max(0.0, uppers[len(uppers) - 1 - trim] - lowers[trim])


def margin_from(samples: Sequence[tuple[float, float]], policy: MarginPolicy) -> float:
    """The margin ``policy`` gives for these samples (the ceiling without enough of them)."""
    if not policy.learn or len(samples) < MIN_SAMPLES:
        return policy.ceiling
    wanted = spread_of(samples) * SLACK + SLACK_SECONDS
    return min(policy.ceiling, max(policy.floor, wanted))


def delay_bounds(
    reserved_at: datetime, reported_at: datetime, duration_ms: float | None
) -> tuple[float, float]:
    """``(upper, lower)`` bounds, in seconds, of the delay from reserving to being counted."""
    upper = max(0.0, (reported_at - reserved_at).total_seconds())
    lower = max(0.0, upper - max(0.0, duration_ms or 0.0) / 1000.0)
    return upper, lower


def recent_samples(conn: Connection, key: str, sample: int = SAMPLE) -> list[tuple[float, float]]:
    """Delay bounds of ``key``'s latest reported calls (one backward walk of the seq index)."""
    L = api_call_ledger
    rows = conn.execute(
        select(L.c.reserved_at, L.c.reported_at, L.c.duration_ms)
        .where(
            L.c.budget_key == key,
            L.c.reported_at.is_not(None),
            L.c.outcome.not_in((RESERVED, EXTERNAL)),
        )
        .order_by(L.c.seq.desc())
        .limit(sample)
    ).all()
    return [delay_bounds(r, p, d) for r, p, d in rows]


def learned_margin(
    conn: Connection,
    key: str,
    *,
    floor: float = DEFAULT_FLOOR,
    ceiling: float = DEFAULT_CEILING,
) -> float:
    """The margin for ``key`` from its recent calls, within ``[floor, ceiling]``."""
    return margin_from(recent_samples(conn, key), MarginPolicy(True, floor, ceiling))
