"""Bounds on waiting, scaled for a busy host: they catch hangs and never measure speed.

A test waits for a subprocess, a server or a condition at most ``bound(seconds)``. The
figure written in the test is what an idle machine needs, with room to spare; on a host
shared with other work (two cores, a load of 5 or more) everything takes several times
longer, and a bound that trips there calls a slow run a hang. The factor gives such a
host that much more before giving up; pytest-timeout's limits are scaled the same way
(``tests/conftest.py``). ``COURTFLOW_TEST_BOUND_FACTOR`` overrides the default (4).
"""

from __future__ import annotations

import os

ENV = "COURTFLOW_TEST_BOUND_FACTOR"
DEFAULT_FACTOR = 4.0


def _factor() -> float:
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_FACTOR
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r} is not a number (expected e.g. 4)") from None
    if not value >= 1.0:  # also refuses NaN
        raise ValueError(f"{ENV}={text!r}: the factor must be at least 1")
    return value


FACTOR = _factor()


def bound(seconds: float) -> float:
    """``seconds`` (an idle machine's bound) scaled for a busy host."""
    return seconds * FACTOR
