"""The SVG helpers produce well-formed, accessible, self-contained charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from courtflow.observe.svg import HLine, Series, bar_chart, empty_chart, line_chart, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed XML


def test_a_line_chart_is_valid_svg_with_id_title_and_one_polyline_per_series() -> None:
    svg = line_chart(
        "chart-calls", "Calls <per> hour & more",
        [Series("ours", [(0.0, 1.0), (3600.0, 5.0), (7200.0, 2.0)]),
         Series('external "usage"', [(0.0, 0.0), (7200.0, 1.0)])],
        hlines=[HLine(10, "limit 10/hour")], y_label="calls",
    )  # fmt: skip
    root = parse(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("id") == "chart-calls" and root.get("data-chart") == "chart-calls"
    assert root.get("role") == "img"
    assert root.find(f"{NS}title").text == "Calls <per> hour & more"  # type: ignore[union-attr]
    labelled = root.get("aria-labelledby", "").split()
    assert "chart-calls-title" in labelled
    polylines = root.findall(f".//{NS}polyline")
    assert [p.get("data-series") for p in polylines] == ["ours", 'external "usage"']
    assert len(polylines[0].get("points", "").split()) == 3
    assert len(root.findall(f".//{NS}line[@class='hline']")) == 1


def test_points_stay_inside_the_drawing_area() -> None:
    svg = line_chart("c", "t", [Series("s", [(10.0, 0.0), (20.0, 99.0), (30.0, 3.0)])],
                     hlines=[HLine(50, "limit")], width=400, height=200)  # fmt: skip
    (poly,) = parse(svg).findall(f".//{NS}polyline")
    for pair in poly.get("points", "").split():
        x, y = (float(v) for v in pair.split(","))
        assert 0 <= x <= 400 and 0 <= y <= 200


def test_a_single_point_and_a_flat_series_still_draw() -> None:
    root = parse(line_chart("one", "t", [Series("s", [(5.0, 0.0)])]))
    assert root.findall(f".//{NS}circle")


def test_a_chart_without_points_explains_itself_and_keeps_its_id() -> None:
    root = parse(line_chart("nothing", "Latency", [Series("p50", [])]))
    assert root.get("data-chart") == "nothing"
    assert "No data" in "".join(root.itertext())
    assert parse(bar_chart("nobars", "Rows", [])).get("data-chart") == "nobars"
    assert parse(empty_chart("e", "T", "why <not>")).get("id") == "e"


def test_a_bar_chart_has_one_bar_per_label_scaled_to_the_largest() -> None:
    root = parse(bar_chart("rows", "Rows", [("dockets", 120.0), ("a<b", 60.0), ("none", 0.0)]))
    bars = root.findall(f".//{NS}rect[@class='bar']")
    assert [b.get("data-label") for b in bars] == ["dockets", "a<b", "none"]
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0


def test_charts_reference_nothing_outside_themselves() -> None:
    svg = line_chart("c", "t", [Series("s", [(0.0, 1.0), (1.0, 2.0)])]) + bar_chart(
        "b", "t", [("x", 1.0)])  # fmt: skip
    assert "href" not in svg and "<script" not in svg and "url(" not in svg


@pytest.mark.parametrize(("top", "expected_last"), [(4.2, 5.0), (10.5, 15.0), (0.3, 0.3),
                                                    (5000 * 1.05, 6000.0)])  # fmt: skip
def test_ticks_start_at_zero_and_cover_the_top(top: float, expected_last: float) -> None:
    ticks = nice_ticks(top)
    assert ticks[0] == 0 and ticks[-1] >= top
    assert ticks[-1] == pytest.approx(expected_last)
