"""Two designs side by side: what the server answered each over the same run.

A :class:`DesignRun` is every attempt one design sent (time and HTTP status), as the
demo records for courtflow (from its ledger) and for the naive reference design (from
its own counters). The report draws each against the same rate list.

    ours = design_run_from_ledger(engine, "courtflow", since=t0, until=t1)
    naive = DesignRun.from_json(Path(".demo/naive.json").read_text())
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from courtflow.budget.rates import Rate
from courtflow.budget.tables import EXTERNAL, api_call_ledger
from courtflow.budget.waits import max_admissible
from courtflow.observe.calc import peak_window
from courtflow.observe.history import as_utc


@dataclass(frozen=True)
class DesignRun:
    """Every attempt of one design during one run: (epoch seconds, HTTP status or None)."""

    name: str
    started: float
    seconds: float
    attempts: tuple[tuple[float, int | None], ...]

    @property
    def calls(self) -> int:
        return len(self.attempts)

    @property
    def throttled(self) -> int:
        return sum(1 for _, status in self.attempts if status == 429)

    @property
    def admitted(self) -> tuple[float, ...]:
        """When the server admitted (counted) a call: everything but a 429 or no answer."""
        return tuple(sorted(t for t, status in self.attempts if status not in (429, None)))

    def peak(self, rate: Rate) -> int:
        """The most admitted calls in any window of ``rate`` (the server's count)."""
        return peak_window(self.admitted, rate.period)[0]

    def share_of_allowed(self, rates: Sequence[Rate]) -> float:
        """Admitted calls over the most ``rates`` allow in this run's time (1.0: all)."""
        most = max_admissible(rates, self.seconds, step=0.01)
        return len(self.admitted) / most if most else 0.0

    def between(self, start: float, end: float) -> DesignRun:
        """This run's attempts in ``[start, end)``, as a run of exactly that period."""
        kept = tuple(a for a in self.attempts if start <= a[0] < end)
        return DesignRun(self.name, start, end - start, kept)

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "started": self.started, "seconds": self.seconds,
                           "attempts": [list(a) for a in self.attempts]})  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> DesignRun:
        doc = json.loads(text)
        attempts = tuple((float(t), None if s is None else int(s)) for t, s in doc["attempts"])
        return cls(doc["name"], float(doc["started"]), float(doc["seconds"]), attempts)


def whole_windows(rates: Sequence[Rate], start: float, last: float) -> float:
    """The end of the compared period: whole windows of the longest rate from ``start``.

    Within a whole window both a perfect caller and any caller that always has work get
    exactly that window's limit, whatever the phase of their bursts; a period cut inside
    a burst would judge the phase, not the budget. Shorter than one window: up to
    ``last`` (included).
    """
    longest = max(r.period for r in rates)
    whole = int((last - start) // longest)
    return start + whole * longest if whole else last + 1e-6


def design_run_from_ledger(
    engine: Engine,
    name: str,
    *,
    since: datetime,
    until: datetime,
    budget_key: str | None = None,
    run_ids: Sequence[str] | None = None,
) -> DesignRun:
    """Our attempts between ``since`` and ``until`` as the ledger recorded them."""
    L = api_call_ledger.c
    stmt = select(L.reserved_at, L.status).where(
        L.reserved_at >= since, L.reserved_at <= until, L.outcome != EXTERNAL
    )
    if budget_key is not None:
        stmt = stmt.where(L.budget_key == budget_key)
    if run_ids is not None:
        stmt = stmt.where(L.run_id.in_(list(run_ids)))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(L.reserved_at)).all()
    attempts = []
    for at, status in rows:
        moment = as_utc(at)
        assert moment is not None
        attempts.append((moment.timestamp(), None if status is None else int(status)))
    return DesignRun(name, since.timestamp(), (until - since).total_seconds(), tuple(attempts))
