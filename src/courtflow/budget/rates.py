"""Rates as ``N/period`` strings: parse, represent, scale. Pure, no I/O.

The real server understands ``N/s|m|h|d`` (only the period's first letter counts);
courtflow also accepts a whole multiple (``150/20s``) for time-compressed tests
against the sandbox. Such multiples are never sent to the real server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from courtflow.errors import ConfigError

_UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_RATE = re.compile(r"^\s*(\d{1,12})\s*/\s*(\d{0,12})\s*([a-zA-Z]+)\s*$")
# Sane bounds: a limit beyond a billion calls or a window beyond a year is a typo, and a
# huge window would make the ledger keep (and count) rows forever.
MAX_LIMIT = 1_000_000_000
MAX_PERIOD = 366 * 86400


@dataclass(frozen=True, order=True)
class Rate:
    """At most ``limit`` calls in any sliding window of ``period`` seconds."""

    limit: int
    period: float
    text: str

    def __str__(self) -> str:
        return self.text


def parse_rate(text: str) -> Rate:
    """Parse one rate such as ``5000/hour``, ``5/min`` or ``150/20s``."""
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f"malformed rate {text!r}: expected N/period such as '5000/hour'")
    limit, multiple, unit = int(match.group(1)), match.group(2), match.group(3).lower()
    if unit not in _UNITS:
        raise ConfigError(
            f"malformed rate {text!r}: unknown period {unit!r} (use s, m, h, d, "
            "sec, second, min, minute, hour or day)"
        )
    factor = int(multiple) if multiple else 1
    if factor <= 0:
        raise ConfigError(f"malformed rate {text!r}: the period multiple must be positive")
    period = factor * _UNITS[unit]
    if limit > MAX_LIMIT:
        raise ConfigError(f"rate {text.strip()!r}: limit {limit} is above {MAX_LIMIT}")
    if period > MAX_PERIOD:
        raise ConfigError(f"rate {text.strip()!r}: period {period}s is longer than a year")
    return Rate(limit=limit, period=float(period), text=text.strip())


def parse_rates(value: str | Iterable[str], *, name: str | None = None) -> tuple[Rate, ...]:
    """Parse a comma-separated string or a list of rate strings; at least one rate.

    ``name`` is where the value came from (``COURTFLOW_RATES``): errors start with it,
    so the user knows which setting to fix.
    """
    try:
        items = value.split(",") if isinstance(value, str) else list(value)
        rates = tuple(parse_rate(item) for item in items if item.strip())
        if not rates:
            raise ConfigError(
                "no rate given: expected a list such as '5000/hour' or '5/min,50/hour'"
            )
    except ConfigError as exc:
        if name is None:
            raise
        raise ConfigError(f"{name}: {exc}") from None
    return rates


def with_headroom(rates: Sequence[Rate], headroom: float) -> tuple[Rate, ...]:
    """Keep ``headroom`` (0..1) of every limit for other users of the same token."""
    if not 0.0 <= headroom < 1.0:
        raise ConfigError(f"headroom must be in [0, 1), got {headroom}")
    return tuple(
        Rate(limit=math.floor(r.limit * (1.0 - headroom)), period=r.period, text=r.text)
        for r in rates
    )


def format_rates(rates: Sequence[Rate]) -> str:
    return ",".join(r.text for r in rates)


def tighter(*rate_lists: Sequence[Rate]) -> tuple[Rate, ...]:
    """Every rate of every list, minus those another rate already implies; sorted by period.

    Obeying all the lists is the tighter of them. ``B`` is implied by ``A`` when ``A``'s
    window is at least as long and its limit no higher: any ``B``-window lies inside an
    ``A``-window, so it holds at most ``A.limit <= B.limit`` calls.
    """
    pool = sorted(
        {(r.period, r.limit): r for rates in rate_lists for r in rates}.values(),
        key=lambda r: (r.period, r.limit),
    )
    return tuple(
        b
        for b in pool
        if not any(a is not b and a.period >= b.period and a.limit <= b.limit for a in pool)
    )
