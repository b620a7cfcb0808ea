"""CourtListener's ``ExceptionalUserRateThrottle``: one sliding log per token, many rates.

Each token has ONE list of admitted request times. A request is refused when, for any
rate ``N/period`` in force, the log already holds ``N`` or more times newer than
``now - period``. Only admitted requests are recorded. The wait is the time until
enough of the oldest times in the failing window have left it: with ``c >= N`` times
in the window, the ``(c - N + 1)``-th oldest one plus ``period``, minus ``now``.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from courtflow.budget.rates import Rate, parse_rate, parse_rates

Clock = Callable[[], float]
_MIN_HORIZON = 86_400.0  # keep a day of log even under short rates: rates may change
_MAX_DECISIONS = 1_000_000  # the decision trail is for tests; bound its memory


@dataclass(frozen=True)
class Verdict:
    """The throttle's answer for one request."""

    admitted: bool
    rate: Rate | None = None  # the failing rate (the one with the longest wait)
    wait: float | None = None  # seconds; None when no wait can be computed (blocked)

    @property
    def retry_after(self) -> int | None:
        """``Retry-After`` as the server sends it: the wait rounded UP to whole seconds."""
        return None if self.wait is None else max(0, math.ceil(self.wait))


def evaluate(log: Sequence[float], rates: Sequence[Rate], now: float) -> Verdict:
    """The sliding-log rule, pure: ``log`` holds admitted times in ascending order."""
    worst: Verdict | None = None
    for rate in rates:
        if rate.limit <= 0:
            return Verdict(admitted=False, rate=rate, wait=None)
        first = bisect_right(log, now - rate.period)  # times > now - period are inside
        count = len(log) - first
        if count >= rate.limit:
            wait = log[first + count - rate.limit] + rate.period - now
            if worst is None or (worst.wait is not None and wait > worst.wait):
                worst = Verdict(admitted=False, rate=rate, wait=wait)
    return worst if worst is not None else Verdict(admitted=True)


@dataclass(frozen=True)
class WindowState:
    """One rate's live state for ``api-usage/``."""

    rate: Rate
    used: int
    remaining: int
    reset_at: float | None  # epoch seconds when the window next admits one more call
    blocked: bool


@dataclass
class _Account:
    log: list[float] = field(default_factory=list)
    history: list[float] = field(default_factory=list)
    decisions: list[tuple[float, bool]] = field(default_factory=list)
    refused: int = 0
    days: Counter[str] = field(default_factory=Counter)


class SlidingLogThrottle:
    """Thread-safe per-key sliding-log throttle (one lock; work O(rates x log n)).

    >>> t = SlidingLogThrottle(parse_rates("2/s"), clock=lambda: 100.0)
    >>> [t.check("k").admitted for _ in range(3)]
    [True, True, False]
    """

    def __init__(
        self,
        rates: Sequence[Rate],
        *,
        clock: Clock = time.time,
        blocked: Iterable[str] = (),
        day_of: Callable[[float], str] | None = None,
    ) -> None:
        self._rates = tuple(rates)
        self._overrides: dict[str, tuple[Rate, ...]] = {}
        self._blocked = set(blocked)
        self._clock = clock
        self._day_of = day_of
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()
        self._last = float("-inf")

    # -- decisions -------------------------------------------------------------------
    def check(self, key: str) -> Verdict:
        """Decide one request; an admitted one is recorded at once (same lock)."""
        with self._lock:
            now = self._now()
            account = self._account(key)
            if key in self._blocked:
                verdict = Verdict(admitted=False)
            else:
                self._prune(account, now)
                verdict = evaluate(account.log, self.rates_for(key), now)
            if verdict.admitted:
                self._record(account, now, 1)
            else:
                account.refused += 1
            if len(account.decisions) < _MAX_DECISIONS:
                account.decisions.append((now, verdict.admitted))
            return verdict

    def add_usage(self, key: str, n: int) -> None:
        """Record ``n`` admitted requests made elsewhere with the same token, now."""
        with self._lock:
            self._record(self._account(key), self._now(), n)

    # -- configuration ---------------------------------------------------------------
    def rates_for(self, key: str) -> tuple[Rate, ...]:
        return self._overrides.get(key, self._rates)

    def set_rates(
        self, rates: str | Iterable[str] | Sequence[Rate], key: str | None = None
    ) -> None:
        """Change the limits now (for every token, or one); the log is kept."""
        parsed = _as_rates(rates)
        with self._lock:
            if key is None:
                self._rates = parsed
                self._overrides.clear()
            else:
                self._overrides[key] = parsed

    def set_blocked(self, key: str, blocked: bool = True) -> None:
        with self._lock:
            (self._blocked.add if blocked else self._blocked.discard)(key)

    def is_blocked(self, key: str) -> bool:
        return key in self._blocked

    def reset(self) -> None:
        """Forget every log (the windows empty at once); counters are kept."""
        with self._lock:
            for account in self._accounts.values():
                account.log.clear()

    # -- inspection ------------------------------------------------------------------
    def usage(self, key: str) -> list[WindowState]:
        with self._lock:
            now = self._now()
            account = self._account(key)
            blocked = key in self._blocked
            states = []
            for rate in self.rates_for(key):
                first = bisect_right(account.log, now - rate.period)
                used = len(account.log) - first
                # The server's _next_available_at: when enough of the oldest calls have
                # left for one more to fit (under the limit: when the oldest leaves).
                needed = max(used - rate.limit + 1, 1)
                reset_at = None
                if used and rate.limit > 0:
                    reset_at = account.log[first + min(needed, used) - 1] + rate.period
                states.append(
                    WindowState(
                        rate=rate,
                        used=used,
                        remaining=max(0, rate.limit - used),
                        reset_at=reset_at,
                        blocked=blocked or rate.limit <= 0,
                    )
                )
            return states

    def admissions(self, key: str) -> list[float]:
        """Every admitted time for ``key`` since start (``add_usage`` included)."""
        with self._lock:
            return list(self._account(key).history)

    def decisions(self, key: str) -> list[tuple[float, bool]]:
        """Every decision ``(time, admitted)`` taken by :meth:`check` for ``key``."""
        with self._lock:
            return list(self._account(key).decisions)

    def days(self, key: str) -> dict[str, int]:
        with self._lock:
            return dict(self._account(key).days)

    def counts(self) -> dict[str, tuple[int, int]]:
        """``key -> (admitted, refused)``."""
        with self._lock:
            return {k: (len(a.history), a.refused) for k, a in self._accounts.items()}

    # -- internals (lock held) -------------------------------------------------------
    def _now(self) -> float:
        # The log must stay sorted even if the wall clock steps back.
        self._last = max(self._last, self._clock())
        return self._last

    def _account(self, key: str) -> _Account:
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account()
        return account

    def _record(self, account: _Account, now: float, n: int) -> None:
        account.log.extend([now] * n)
        account.history.extend([now] * n)
        if self._day_of is not None and n:
            account.days[self._day_of(now)] += n

    def _prune(self, account: _Account, now: float) -> None:
        horizon = max([_MIN_HORIZON, *(r.period for rs in self._all_rates() for r in rs)])
        cut = bisect_right(account.log, now - horizon)
        if cut > 1024 or (cut and cut * 2 > len(account.log)):
            del account.log[:cut]

    def _all_rates(self) -> list[tuple[Rate, ...]]:
        return [self._rates, *self._overrides.values()]


def _as_rates(rates: str | Iterable[str] | Sequence[Rate]) -> tuple[Rate, ...]:
    if isinstance(rates, str):
        return parse_rates(rates)
    parsed = tuple(r if isinstance(r, Rate) else parse_rate(r) for r in rates)
    if not parsed:
        return parse_rates(())  # raises the usual "no rate given" ConfigError
    return parsed
