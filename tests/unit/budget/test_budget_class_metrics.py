"""Per-class budget metrics: the gate over a budget with a priority class reports it."""

from __future__ import annotations

from courtflow.client.gate import CallReport, Ticket
from courtflow.observe.metrics import BUDGET_ADMITTED, BUDGET_QUEUE_WAIT, MemorySink, ObservedGate


class ClassedGate:
    """A gate that admits at once, as a Budget of one class would when there is room."""

    def __init__(self, priority: str | None) -> None:
        self.priority = priority

    def reserve(self, endpoint: str) -> Ticket:
        return Ticket(endpoint=endpoint, reserved_at=0.0, call_id=1)

    def report(self, ticket: Ticket, report: CallReport) -> None:
        return None

    def throttled(self, retry_after: float) -> None:
        return None


def test_each_admission_is_counted_and_timed_under_its_class() -> None:
    sink = MemorySink()
    ticks = iter([10.0, 10.25])
    gate = ObservedGate(ClassedGate("backfill"), sink, clock=lambda: next(ticks))
    gate.reserve("dockets/")
    assert sink.counters() == {f"{BUDGET_ADMITTED}.backfill": 1}
    assert sink.timings(f"{BUDGET_QUEUE_WAIT}.backfill") == [250.0]
    tags = [e.tags for e in sink.emitted if e.name == f"{BUDGET_ADMITTED}.backfill"]
    assert tags == [{"endpoint": "dockets/", "priority": "backfill"}]


def test_a_gate_without_a_class_emits_no_class_metrics() -> None:
    sink = MemorySink()
    ObservedGate(ClassedGate(None), sink).reserve("dockets/")
    assert not [e for e in sink.emitted if e.name.startswith(BUDGET_ADMITTED)]
