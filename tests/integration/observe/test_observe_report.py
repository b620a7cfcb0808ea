"""The HTML report: every chart present and drawn in a real browser, empty ledgers handled,
nothing fetched from anywhere, no secret in it."""

from __future__ import annotations

import io
import logging
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from observe_browser import dump_dom, screenshot
from observe_ledger import (
    END,
    KEY,
    RATES,
    START,
    LedgerDb,
    LedgerRow,
    insert_ledger,
    prepare_schema,
)
from observe_png import colour_stats, read_png

from courtflow.budget.rates import parse_rates
from courtflow.client.gate import CallReport, PassThroughGate
from courtflow.observe.logs import configure_json_logging, log_context
from courtflow.observe.metrics import MemorySink, ObservedGate
from courtflow.observe.report import CHART_IDS_FIXED, build_report, window_chart_id
from courtflow.redact import Secret
from courtflow.store.engine import make_engine

TOKEN = "fedcba9876543210fedcba9876543210fedcba98"
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def expected_chart_ids(rates: tuple[object, ...] = tuple(RATES)) -> set[str]:
    return {*(window_chart_id(r) for r in rates), *CHART_IDS_FIXED}  # type: ignore[arg-type]


def chart_ids(page: str) -> set[str]:
    return set(re.findall(r'data-chart="([^"]+)"', page))


def svgs(page: str) -> dict[str, ET.Element]:
    out = {}
    for match in SVG.finditer(page):
        root = ET.fromstring(match.group(0))  # every chart is well-formed XML
        out[root.get("id", "")] = root
    return out


def engine_rows(ledger: LedgerDb) -> list[LedgerRow]:
    """The rows of the report's key in its period (the last call is at END - 5 s)."""
    return [r for r in ledger[1] if r.budget_key == KEY and START <= r.reserved_at <= END]


def report(engine: object, tmp_path: Path, name: str = "report.html", **kw: object) -> Path:
    return build_report(engine, RATES, tmp_path / name, budget_key=KEY, now=END, **kw)  # type: ignore[arg-type]


def test_every_chart_is_present_titled_and_drawn_with_data(
    ledger: LedgerDb, tmp_path: Path
) -> None:
    engine, _ = ledger
    page = report(engine, tmp_path).read_text()
    charts = svgs(page)
    assert set(charts) == expected_chart_ids()
    ns = "{http://www.w3.org/2000/svg}"
    for cid, root in charts.items():
        assert root.get("data-chart") == cid and root.get("role") == "img"
        assert (root.findtext(f"{ns}title") or "").strip(), cid
        drawn = root.findall(f".//{ns}polyline") + root.findall(f".//{ns}rect[@class='bar']")
        assert drawn, f"{cid} has nothing drawn"
    for rate in RATES:
        window = charts[window_chart_id(rate)]
        assert window.findall(f".//{ns}line[@class='hline']"), "the limit line is missing"
    assert 'id="recent-runs"' in page and "scheduled__2024-05-01T15:00:00+00:00" in page
    assert "empty-notice" not in page
    # Admissions and queue waits per priority class, in the period, of this key only.
    classes = re.search(r'<table id="classes">.*?</table>', page, re.S)
    assert classes is not None
    rows = dict(re.findall(r"<tr><td class='l'>(\w+)</td><td>([\d,]+)</td>", classes.group(0)))
    calls = [r for r in engine_rows(ledger) if r.outcome != "external"]
    backfill = sum(1 for r in calls if r.endpoint == "opinions/")
    assert rows["backfill"] == f"{backfill:,}" and int(rows["interactive"]) == 0
    assert int(rows["incremental"].replace(",", "")) == len(calls) - backfill
    assert "2s" in classes.group(0)  # the backfill's queue wait (1.5 s), rounded up


def test_sqlite_and_postgresql_give_the_same_report(
    sqlite_ledger: LedgerDb, pg_ledger: LedgerDb, tmp_path: Path
) -> None:
    lite = report(sqlite_ledger[0], tmp_path, "lite.html").read_text()
    pg = report(pg_ledger[0], tmp_path, "pg.html").read_text()
    assert lite == pg


def test_the_report_renders_in_headless_chromium_with_every_chart(
    pg_ledger: LedgerDb, chromium: str, tmp_path: Path
) -> None:
    page = report(pg_ledger[0], tmp_path)
    dom = dump_dom(chromium, page, tmp_path)
    assert chart_ids(dom) == expected_chart_ids()
    assert len(re.findall(r"<polyline\b", dom)) >= 2 + 2 + 3 + 3  # windows, hourly, 429s, latency
    png = read_png(screenshot(chromium, page, tmp_path / "shot.png", tmp_path))
    assert (png.width, png.height) == (1400, 3000)
    ink, colours = colour_stats(png)
    assert ink > 0.05, f"only {ink:.1%} of the page differs from its background"
    assert len(colours) > 50
    # The series blue and the limit red are on the page, not just boxes and text.
    assert any(abs(r - 31) + abs(g - 119) + abs(b - 180) < 30 for r, g, b in colours)
    assert any(abs(r - 214) + abs(g - 39) + abs(b - 40) < 30 for r, g, b in colours)


def test_an_empty_ledger_gives_a_report_that_says_so(chromium: str, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    prepare_schema(engine)
    rates = parse_rates("5000/hour")
    page = build_report(engine, rates, tmp_path / "empty.html")
    text = page.read_text()
    assert 'id="empty-notice"' in text and "ledger is empty" in text
    assert chart_ids(text) == expected_chart_ids(rates)
    assert all(root.get("data-chart") for root in svgs(text).values())
    assert chart_ids(dump_dom(chromium, page, tmp_path)) == expected_chart_ids(rates)


def test_a_database_without_the_ledger_table_gives_a_report_that_says_so(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.sqlite'}")
    text = build_report(engine, RATES, tmp_path / "bare.html").read_text()
    assert "ledger table does not exist" in text
    assert chart_ids(text) == expected_chart_ids()


def test_a_period_with_no_calls_is_not_an_error(sqlite_ledger: LedgerDb, tmp_path: Path) -> None:
    engine, _ = sqlite_ledger
    later = END + timedelta(days=30)
    text = build_report(engine, RATES, tmp_path / "later.html", budget_key=KEY,
                        since=later, until=later + timedelta(hours=1)).read_text()  # fmt: skip
    assert "ledger is empty" in text
    assert chart_ids(text) == expected_chart_ids()


def test_the_report_loads_nothing_from_anywhere(sqlite_ledger: LedgerDb, tmp_path: Path) -> None:
    text = report(sqlite_ledger[0], tmp_path).read_text()
    assert "<script" not in text and "<link" not in text and "<img" not in text
    assert not re.search(r"\b(src|href)\s*=", text)
    assert "url(" not in text and "@import" not in text
    urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}


def test_a_planted_token_reaches_neither_the_logs_nor_the_report(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'planted.sqlite'}")
    prepare_schema(engine)
    insert_ledger(engine, [
        LedgerRow(KEY, START, f"dockets/?auth={TOKEN}", "http_error", 500, 12.0, 1,
                  "ServerError", f"manual__{TOKEN}", "sync_dockets"),
        LedgerRow(KEY, START + timedelta(seconds=5), "dockets/", "ok", 200, 10.0, 2, None,
                  f"manual__{TOKEN}", f"task Token {TOKEN}"),
    ])  # fmt: skip
    stream = io.StringIO()
    root, level = logging.getLogger(), logging.getLogger().level
    handler = configure_json_logging("DEBUG", stream, secrets=(Secret(TOKEN),))
    try:
        with log_context(run_id=f"manual__{TOKEN}", task_id="sync_dockets"):
            gate = ObservedGate(PassThroughGate(), MemorySink())
            gate.report(gate.reserve(f"dockets/?auth={TOKEN}"),
                        CallReport(status=401, outcome="http_error", duration_ms=3.0,
                                   error_class="AuthError"))  # fmt: skip
            logging.getLogger("courtflow.client").warning(
                "GET %s -> 401", f"https://x/api/rest/v4/dockets/?t={TOKEN}",
                extra={"event": "api_call", "url": f"https://x/?t={TOKEN}",
                       "headers": {"Authorization": f"Token {TOKEN}"}},
            )  # fmt: skip
            try:
                raise RuntimeError(f"Invalid token {TOKEN}")
            except RuntimeError:
                logging.getLogger("courtflow.sync").exception("window failed")
        page = build_report(engine, RATES, tmp_path / "planted.html", budget_key=KEY,
                            title=f"report for {TOKEN}", secrets=(Secret(TOKEN),))  # fmt: skip
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logs, text = stream.getvalue(), page.read_text()
    assert len(logs.splitlines()) == 3
    for output in (logs, text):
        assert TOKEN not in output and TOKEN.upper() not in output
        assert "manual__***" in output  # the run is still named, its secret part removed
    assert chart_ids(text) == expected_chart_ids()


def test_report_files_are_written_where_asked(sqlite_ledger: LedgerDb, tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "r.html"
    path = build_report(sqlite_ledger[0], RATES, target, budget_key=KEY, now=END)
    assert path == target and path.stat().st_size > 10_000
    assert path.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("rates_text", ["5/min,50/hour,125/day", "150/20s"])
def test_any_rate_list_gets_one_window_chart_per_rate(
    sqlite_ledger: LedgerDb, tmp_path: Path, rates_text: str
) -> None:
    rates = parse_rates(rates_text)
    text = build_report(sqlite_ledger[0], rates, tmp_path / "r.html", budget_key=KEY).read_text()
    assert chart_ids(text) == expected_chart_ids(rates)


def _x_labels(root: ET.Element) -> list[str]:
    ns = "{http://www.w3.org/2000/svg}"
    return [t.text or "" for t in root.findall(f"{ns}text[@text-anchor='middle']")
            if t.get("transform") is None]  # the rotated one is the y axis's name


@pytest.mark.parametrize(
    ("span", "bucket", "label"),
    [(timedelta(minutes=3), "10 s", r"^\d\d:\d\d:\d\d$"), (timedelta(hours=6), "5 min",
     r"^\d\d:\d\d$")],
)  # fmt: skip
def test_time_axes_fit_the_period(
    sqlite_ledger: LedgerDb, tmp_path: Path, span: timedelta, bucket: str, label: str
) -> None:
    page = build_report(sqlite_ledger[0], RATES, tmp_path / "span.html", budget_key=KEY,
                        since=START, until=START + span, now=END).read_text()  # fmt: skip
    charts = svgs(page)
    calls = charts["chart-calls-over-time"]
    ns = "{http://www.w3.org/2000/svg}"
    assert (calls.findtext(f"{ns}title") or "") == f"Calls per {bucket}"
    labels = _x_labels(calls)
    assert len(labels) == 6 and all(re.match(label, x) for x in labels), labels
    (ours, _external) = calls.findall(f".//{ns}polyline")
    assert len(ours.get("points", "").split()) >= span.total_seconds() / 300  # not one dot


def test_a_month_is_drawn_in_days_and_a_short_run_in_seconds() -> None:
    from courtflow.observe.report import bucket_for
    from courtflow.observe.svg import time_formatter

    assert bucket_for(180) == 10 and bucket_for(7 * 86400) == 3600
    assert bucket_for(31 * 86400) == 6 * 3600
    assert time_formatter(0, 31 * 86400)(86400 * 3) == "1970-01-04"
    assert time_formatter(0, 120)(75) == "00:01:15"


def test_every_point_and_bar_shows_its_value_on_hover_and_charts_span_the_page(
    sqlite_ledger: LedgerDb, tmp_path: Path
) -> None:
    page = report(sqlite_ledger[0], tmp_path).read_text()
    ns = "{http://www.w3.org/2000/svg}"
    for cid, root in svgs(page).items():
        assert root.get("width") == "100%" and root.get("viewBox"), cid
        for poly in root.findall(f".//{ns}polyline"):
            points = poly.get("points", "").split()
            name = poly.get("data-series", "")
            hovers = [c.findtext(f"{ns}title") or "" for c in root.findall(f".//{ns}circle")]
            mine = [t for t in hovers if t.startswith(f"{name}: ")]
            assert len(mine) == len(points), (cid, name)
            assert all(re.search(r": [\d.,k]+( ms)? at 2024-05-01 \d\d:\d\d:\d\d UTC$", t)
                       for t in mine), mine[:3]  # fmt: skip
        for bar in root.findall(f".//{ns}rect[@class='bar']"):
            assert (bar.findtext(f"{ns}title") or "").startswith(bar.get("data-label", "?"))
    assert "figure{" in page and "width:100%" in page


def test_the_report_lists_scopes_rejects_and_429s(ledger: LedgerDb, tmp_path: Path) -> None:
    engine, _ = ledger
    page = report(engine, tmp_path).read_text()
    assert 'id="scopes"' in page and 'id="throttles"' in page
    assert "rejected records" in page
    throttles = re.search(r'<table id="throttles">.*?</table>', page, re.S)
    assert throttles is not None and throttles.group(0).count("<tr>") >= 2
