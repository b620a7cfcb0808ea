"""ObservedGate over the real Budget: the ledger it writes is the history the report reads."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from observe_ledger import prepare_schema

from courtflow.budget.budget import Budget
from courtflow.budget.rates import parse_rates
from courtflow.client.gate import CallReport
from courtflow.observe import history as h
from courtflow.observe.logs import configure_json_logging
from courtflow.observe.metrics import MemorySink, ObservedGate
from courtflow.observe.report import build_report
from courtflow.store.engine import make_engine


def test_calls_through_an_observed_budget_are_measured_logged_and_in_the_history(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'budget.sqlite'}")
    prepare_schema(engine)
    rates = parse_rates("5/min,50/hour")
    budget = Budget(engine, "key-e2e", rates, safety_margin=0.0, run_id="manual__e2e",
                    task_id="sync_dockets", dag_id="courtlistener_pipeline")  # fmt: skip
    sink = MemorySink()
    gate = ObservedGate(budget, sink, usage=budget.usage, usage_interval=0.0)
    stream = io.StringIO()
    root, level = logging.getLogger(), logging.getLogger().level
    handler = configure_json_logging("INFO", stream)
    try:
        for status, outcome, error in ((200, "ok", None), (503, "http_error", "ServerError"),
                                       (200, "ok", None)):  # fmt: skip
            ticket = gate.reserve("dockets/")
            assert ticket.call_id is not None
            gate.report(ticket, CallReport(status=status, outcome=outcome, duration_ms=20.0,
                                           attempt=1, error_class=error))  # type: ignore[arg-type]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert sink.counters() == {"courtlistener.calls": 3, "courtlistener.errors.ServerError": 1,
                               "courtlistener.budget.admitted.incremental": 3}  # fmt: skip
    assert sink.gauges() == {
        "courtlistener.budget.remaining.5_per_min": 2,
        "courtlistener.budget.remaining.50_per_hour": 47,
    }
    observed = [json.loads(x) for x in stream.getvalue().splitlines() if "call_observed" in x]
    assert [x["budget_remaining"]["5_per_min"] for x in observed] == [4, 3, 2]
    summary = h.summary(engine, h.Filter("key-e2e"))
    assert (summary.calls, summary.errors, summary.in_flight) == (3, 1, 0)
    (run,) = h.recent_runs(engine, h.Filter("key-e2e"))
    assert (run.run_id, run.calls, run.tasks) == ("manual__e2e", 3, 1)
    page = build_report(engine, rates, tmp_path / "r.html", budget_key="key-e2e").read_text()
    assert "3 / 5" in page  # peak of the 5/min window
