"""The plain StatsD sink (used outside Airflow) writes standard StatsD lines."""

from __future__ import annotations

import socket

from courtflow.observe.metrics import UdpStatsdSink


def test_udp_statsd_sink_writes_counters_timers_and_absolute_gauges() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        sink = UdpStatsdSink("127.0.0.1", sock.getsockname()[1], prefix="airflow")
        try:
            sink.incr("courtlistener.calls")
            sink.incr("courtlistener.rows_upserted.dockets", 20)
            sink.timing("courtlistener.call_latency", 12.5)
            sink.gauge("courtlistener.budget.remaining.5000_per_hour", 4999)
            sink.gauge("courtlistener.server_block_seconds", -3)
            packets = [sock.recvfrom(4096)[0].decode() for _ in range(5)]
        finally:
            sink.close()
    assert packets == [
        "airflow.courtlistener.calls:1|c",
        "airflow.courtlistener.rows_upserted.dockets:20|c",
        "airflow.courtlistener.call_latency:12.500|ms",
        "airflow.courtlistener.budget.remaining.5000_per_hour:4999|g",
        # A signed gauge value is a delta in StatsD: reset to 0 first to set -3.
        "airflow.courtlistener.server_block_seconds:0|g\nairflow.courtlistener.server_block_seconds:-3|g",
    ]
