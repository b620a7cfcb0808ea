"""The Grafana dashboard and the statsd-exporter mapping cover every documented metric."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from courtflow.observe import metrics as m

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "grafana" / "courtflow-dashboard.json"
MAPPING = REPO / "grafana" / "statsd-mapping.yml"
METRICS_MD = Path(m.__file__).with_name("METRICS.md")


def documented() -> list[tuple[str, str]]:
    """(courtflow name, Prometheus name with its label) rows of METRICS.md."""
    out = []
    for line in METRICS_MD.read_text().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            prom = re.match(r"`([a-z_]+)(?:\{([a-z_]+)\})?`", cells[3])
            assert prom, line
            out.append((cells[0].strip("`"), prom.group(0).strip("`")))
    return out


def statsd_exporter_map(wire: str) -> tuple[str, dict[str, str]] | None:
    """What statsd_exporter would do with ``wire``: first matching mapping wins."""
    for mapping in yaml.safe_load(MAPPING.read_text())["mappings"]:
        assert mapping["match_type"] == "regex"
        match = re.match(mapping["match"], wire)
        if match:
            labels = {k: match.expand(v.replace("$", "\\")) for k, v in
                      mapping.get("labels", {}).items()}  # fmt: skip
            return mapping["name"], labels
    return None


@pytest.mark.parametrize("prefix", ["airflow.", "", "custom_prefix."])
def test_every_documented_metric_maps_to_its_prometheus_name_and_label(prefix: str) -> None:
    values = {"<error_class>": "ServerError", "<window>": "5000_per_hour",
              "<resource>": "docket-entries", "<priority>": "backfill"}  # fmt: skip
    for name, prom in documented():
        wire = name
        for placeholder, value in values.items():
            wire = wire.replace(placeholder, value)
        mapped = statsd_exporter_map(prefix + wire)
        assert mapped is not None, wire
        metric, labels = mapped
        expected = re.match(r"([a-z_]+)(?:\{([a-z_]+)\})?", prom)
        assert expected is not None
        assert metric == expected.group(1)
        if expected.group(2):
            placeholder = f"<{expected.group(2)}>"
            assert labels == {expected.group(2): values[placeholder]}
        else:
            assert labels == {}


def test_unrelated_metrics_are_left_to_the_exporter_defaults() -> None:
    assert statsd_exporter_map("airflow.ti.finish.dag.task.success") is None
    assert statsd_exporter_map("airflow.courtlistener.calls.extra") is None


def test_the_dashboard_has_a_panel_for_every_documented_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for _, prom in documented():
        base = prom.split("{")[0]
        assert re.search(rf"\b{base}(_bucket)?\b", exprs), base
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["templating"]["list"][0]["query"] == "prometheus"


def test_timers_are_histograms_in_the_mapping() -> None:
    timers = {n for n, _ in documented() if n in (m.CALL_LATENCY, m.BUDGET_WAIT, m.PAGE_DURATION)}
    assert len(timers) == 3
    for mapping in yaml.safe_load(MAPPING.read_text())["mappings"]:
        if mapping["name"].endswith("_seconds") and "lag" not in mapping["name"] \
                and "block" not in mapping["name"]:  # fmt: skip
            assert mapping["observer_type"] == "histogram"
            assert mapping["histogram_options"]["buckets"]
