"""`make demo` end to end (slow: about three minutes, then a rerun): its report, rendered
in headless Chromium, shows every chart with data and the naive design side by side;
the demo ends with courtflow's JSON line and a rerun spends no call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from observe_browser import dump_dom, screenshot
from observe_png import colour_stats, read_png

from bounds import bound
from courtflow.budget.rates import parse_rates
from courtflow.demo.run import RATES
from courtflow.observe.report import CHART_IDS_FIXED, window_chart_id

REPO = Path(__file__).resolve().parents[3]
NS = "{http://www.w3.org/2000/svg}"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def run_demo(where: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURTFLOW_", "AIRFLOW"))}
    cmd = [sys.executable, "-m", "courtflow.demo", "--dir", str(where)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=bound(600))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def charts(page: str) -> dict[str, ET.Element]:
    found = {}
    for match in SVG.finditer(page):
        root = ET.fromstring(match.group(0))
        found[root.get("id", "")] = root
    return found


def values(root: ET.Element, series: str) -> list[float]:
    titles = [c.findtext(f"{NS}title") or "" for c in root.iter(f"{NS}circle")]
    return [float(t.split(": ", 1)[1].split(" ")[0].replace(",", ""))
            for t in titles if t.startswith(f"{series}: ")]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_demo_report_shows_the_budget_at_work_beside_the_naive_design(
    chromium: str, tmp_path: Path
) -> None:
    where = tmp_path / "demo"
    first = run_demo(where)
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["throttled"] == 0 and summary["errors"] == 0 and summary["api_calls"] > 40
    assert set(summary) == {"stored", "table_totals", "api_calls", "throttled", "errors",
                            "rejected"}
    assert summary["rejected"] == 0
    assert re.search(r"naive reference design\s+\d+ calls,\s+[1-9]\d* x 429", first.stderr)
    assert re.search(r"courtflow\s+\d+ calls,\s+0 x 429", first.stderr)
    # Over the same period (the DAG's run, Airflow already started), courtflow is admitted
    # at least 95% of the calls the rates allow; the naive design's share is shown beside.
    share = re.search(r"courtflow\s+\d+ calls.*: (\d+)% of the calls the rates allow",
                      first.stderr)  # fmt: skip
    assert share and int(share.group(1)) >= 95, first.stderr[-2000:]
    assert re.search(r"naive reference design .*: \d+% of the calls the rates allow", first.stderr)

    report = where / "report.html"
    dom = dump_dom(chromium, report, tmp_path)
    drawn = charts(dom)
    rates = parse_rates(RATES)
    expected = {*(window_chart_id(r) for r in rates), *CHART_IDS_FIXED}
    assert expected <= set(drawn)
    for rate in rates:  # courtflow rode every limit and never went over
        counts = values(drawn[window_chart_id(rate)], f"calls in {rate.text} window")
        assert max(counts) == rate.limit, (rate.text, max(counts))
    for cid in ("chart-calls-over-time", "chart-latency"):
        assert any(v > 0 for v in values(drawn[cid], "our calls" if "calls" in cid else "p50"))
    for cid in ("chart-rows-per-resource", "chart-watermark-lag"):
        assert drawn[cid].findall(f".//{NS}rect[@class='bar']")

    # The side-by-side comparison: both designs, each rate, the naive one's 429s.
    assert 'id="comparison"' in dom
    compare = {cid: root for cid, root in drawn.items() if cid.startswith("chart-compare-")}
    assert len(compare) == 2 * len(rates)
    ours_429 = [v for cid, r in compare.items() if "courtflow" in cid for v in values(r, "429s")]
    naive_429 = [v for cid, r in compare.items() if "naive" in cid for v in values(r, "429s")]
    assert ours_429 and max(ours_429) == 0 and naive_429 and max(naive_429) > 0
    totals = re.search(r"<table id=.comparison-totals.>.*?</table>", dom, re.S)
    assert totals is not None and "429 answers" in totals.group(0)
    assert "share of it admitted" in totals.group(0)

    png = read_png(screenshot(chromium, report, tmp_path / "demo.png", tmp_path, "1400,6000"))
    ink, colours = colour_stats(png)
    assert ink > 0.05 and len(colours) > 50
    # Charts span the page: the right fifth of the page holds chart ink (blue series).
    right = {png.pixel(x, y)[:3] for x in range(1150, 1380, 3) for y in range(0, png.height, 6)}
    assert any(abs(r - 31) + abs(g - 119) + abs(b - 180) < 30 for r, g, b in right)

    again = run_demo(where)  # idempotent: courtflow spends no call the second time
    rerun = json.loads(again.stdout.strip().splitlines()[-1])
    assert rerun["api_calls"] == 0 and rerun["table_totals"] == summary["table_totals"]
    assert 'id="comparison"' in (where / "report.html").read_text()
