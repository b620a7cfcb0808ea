"""One self-contained HTML report of what the budget and the loads did.

Inline CSS and inline SVG only (no scripts, no fonts, no network), so the file can be
mailed, attached to a ticket or opened offline. Every chart is an ``<svg>`` with
``id``/``data-chart`` and an accessible ``<title>``; charts span the page's width, their
time axes fit the period (seconds for a short run, days for a month), and every point
shows its value on hover. Loads per resource and scope (rejected records included) and
the 429s of the period are listed; :class:`~courtflow.observe.compare.DesignRun` s passed
as ``comparison`` are drawn side by side against the same rates.

    build_report(make_engine(url), parse_rates("5000/hour"), Path("report.html"))
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, inspect

from courtflow.budget.classes import ClassStats, class_stats
from courtflow.budget.rates import Rate
from courtflow.budget.tables import api_call_ledger
from courtflow.observe import history as h
from courtflow.observe import status as st
from courtflow.observe.compare import DesignRun
from courtflow.observe.metrics import window_label
from courtflow.observe.report_sections import (
    classes_table,
    comparison_section,
    scopes_table,
    throttles_table,
)
from courtflow.observe.svg import HLine, Series, bar_chart, empty_chart, line_chart
from courtflow.redact import Secret, redact

DEFAULT_SPAN = timedelta(days=7)
CHART_IDS_FIXED: tuple[str, ...] = (
    "chart-calls-over-time",
    "chart-throttles-retries",
    "chart-latency",
    "chart-rows-per-resource",
    "chart-watermark-lag",
)

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222;
background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.sub{color:#666;margin-bottom:16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 14px;min-width:120px}
.card .v{font-size:22px;font-weight:600} .card .k{color:#666;font-size:12px}
.card.bad .v{color:#d62728}
figure{background:#fff;border:1px solid #dde;border-radius:6px;margin:12px 0;padding:8px;
box-sizing:border-box;width:100%}
figure svg{display:block;width:100%;height:auto}
svg .pt:hover{fill-opacity:1}
.side{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.side h3{font-size:15px;margin:8px 0}
figcaption{color:#555;font-size:12px;padding:4px 8px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #dde;padding:4px 8px;text-align:right}
th{background:#eef} td.l,th.l{text-align:left}
.empty{background:#fff8e1;border:1px solid #f0d36b;padding:12px;border-radius:6px}
"""


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, gathered before rendering (handy for tests)."""

    generated_at: datetime
    since: datetime | None
    until: datetime | None
    summary: h.Summary | None
    hours: list[h.HourCount]
    windows: list[h.WindowSeries]
    latency_hours: list[h.Latency]
    latency_all: h.Latency | None
    rows: list[h.ResourceRows]
    lags: list[h.WatermarkLag]
    runs: list[h.RunSummary]
    ledger_missing: bool
    bucket_seconds: int = 3600
    scopes: tuple[st.ScopeStatus, ...] = ()
    throttles: tuple[st.Throttle, ...] = ()
    comparison: tuple[DesignRun, ...] = ()
    rejects: dict[str, int] = field(default_factory=dict)  # records set aside, per resource
    classes: tuple[ClassStats, ...] = ()  # admissions and queue waits per priority class


# Bucket sizes for the charts over time; the smallest that keeps about 200 points or fewer.
BUCKETS: tuple[int, ...] = (10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)
MAX_BUCKETS = 200


def bucket_for(span_seconds: float) -> int:
    """Seconds per bucket for a period: 10 s for a short run, hours for a week, 6 h+ for more."""
    return next((b for b in BUCKETS if span_seconds / b <= MAX_BUCKETS), BUCKETS[-1])


def bucket_name(seconds: int) -> str:
    names = {60: "minute", 3600: "UTC hour", 86400: "UTC day"}
    if seconds in names:
        return names[seconds]
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else (
        f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s")


def gather(
    engine: Engine,
    rates: Sequence[Rate],
    *,
    budget_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    comparison: Sequence[DesignRun] = (),
) -> ReportData:
    """Run every history query for the report's period (default: the last 7 days of calls)."""
    current = now or datetime.now(UTC)
    rows, lags = h.rows_per_resource(engine), h.watermark_lags(engine, current)
    rejects = rejected_per_resource(engine)
    with engine.connect() as conn:
        scopes = st.scope_statuses(conn, current)
    if not inspect(engine).has_table(api_call_ledger.name):
        return ReportData(current, None, None, None, [], [], [], None, rows, lags, [], True,
                          scopes=scopes, comparison=tuple(comparison),
                          rejects=rejects)  # fmt: skip
    first, last = h.ledger_span(engine, h.Filter(budget_key, since, until))
    if first is None or last is None:
        return ReportData(current, since, until, None, [], [], [], None, rows, lags, [], False,
                          scopes=scopes, comparison=tuple(comparison),
                          rejects=rejects)  # fmt: skip
    end = until or last
    start = since or max(first, end - DEFAULT_SPAN)
    where = h.Filter(budget_key, start, end)
    bucket = bucket_for((end - start).total_seconds())
    overall = h.latency(engine, where, by_hour=False)
    with engine.connect() as conn:
        throttles, _ = st.throttles_between(conn, start, end, budget_key=budget_key)
    return ReportData(
        generated_at=current, since=start, until=end, summary=h.summary(engine, where),
        hours=_fill_hours(h.calls_per_hour(engine, where, bucket_seconds=bucket), start, end,
                          bucket),
        windows=h.window_series(engine, rates, where),
        latency_hours=h.latency(engine, where, bucket_seconds=bucket),
        latency_all=overall[0] if overall else None,
        rows=rows, lags=lags, runs=h.recent_runs(engine, where), ledger_missing=False,
        bucket_seconds=bucket, scopes=scopes, throttles=throttles, comparison=tuple(comparison),
        rejects=rejects, classes=class_stats(engine, budget_key, start, end),
    )  # fmt: skip


def rejected_per_resource(engine: Engine) -> dict[str, int]:
    """Records set aside in ``sync_rejects``, per resource (empty before migration 0006)."""
    from courtflow.store.rejects import rejects_by_resource
    from courtflow.store.tables import sync_rejects

    if not inspect(engine).has_table(sync_rejects.name):
        return {}
    with engine.connect() as conn:
        return rejects_by_resource(conn)


def _rejects_table(rejects: dict[str, int]) -> str:
    if not rejects:
        return '<p id="rejected-records">No record has been rejected.</p>'
    body = "".join(
        f"<tr><td class='l'>{html.escape(name)}</td><td>{count:,}</td></tr>"
        for name, count in sorted(rejects.items())
    )
    return (
        '<table id="rejected-records"><thead><tr><th class="l">resource</th>'
        f"<th>rejected records</th></tr></thead><tbody>{body}</tbody></table>"
        "<p class='sub'>Records the target could not store as sent (table sync_rejects, "
        "with reason, page and raw record).</p>"
    )


def _fill_hours(
    hours: list[h.HourCount], start: datetime, end: datetime, bucket: int = 3600
) -> list[h.HourCount]:
    """Insert zero rows for quiet buckets so lines drop to zero instead of bridging gaps."""
    by_start = {x.hour: x for x in hours}
    first = int(start.timestamp()) // bucket * bucket
    if (end.timestamp() - first) / bucket > 4 * MAX_BUCKETS:
        return hours
    filled = []
    cursor = first
    while cursor <= end.timestamp():
        moment = datetime.fromtimestamp(cursor, UTC)
        filled.append(by_start.get(moment, h.HourCount(moment, 0, 0, 0, 0, 0)))
        cursor += bucket
    return filled


def fmt_duration(seconds: float) -> str:
    total = round(seconds)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _epoch(points: Sequence[tuple[datetime, float]]) -> list[tuple[float, float]]:
    return [(t.timestamp(), float(v)) for t, v in points]


def window_chart_id(rate: Rate) -> str:
    return f"chart-window-{window_label(rate)}"


def render_charts(data: ReportData, rates: Sequence[Rate]) -> list[tuple[str, str]]:
    """(svg, caption) for every chart, in page order; empty periods get an explanation."""
    return [*_window_charts(data, rates), *_hourly_charts(data, rates), *_state_charts(data)]


def _window_charts(data: ReportData, rates: Sequence[Rate]) -> list[tuple[str, str]]:
    charts: list[tuple[str, str]] = []
    for ws in data.windows or [h.WindowSeries(r, (), 0, None) for r in rates]:
        title = f"Calls in any {ws.rate.text} window vs the limit"
        cid = window_chart_id(ws.rate)
        if not ws.points:
            charts.append((empty_chart(cid, title, "No calls in this period."), ""))
            continue
        pct = 100.0 * ws.peak / ws.rate.limit if ws.rate.limit else 0.0
        caption = (f"Peak {ws.peak:,} of {ws.rate.limit:,} ({pct:.0f}%) at {_ts(ws.peak_at)}; "
                   "each point counts the calls in the window ending there.")  # fmt: skip
        series = [Series(f"calls in {ws.rate.text} window", _epoch(ws.points))]
        hline = HLine(ws.rate.limit, f"limit {ws.rate.limit:,}")
        charts.append((line_chart(cid, title, series, hlines=[hline], y_label="calls",
                                  desc=caption), caption))  # fmt: skip
    return charts


def _hourly_charts(data: ReportData, rates: Sequence[Rate]) -> list[tuple[str, str]]:
    charts: list[tuple[str, str]] = []
    b = data.bucket_seconds
    per = bucket_name(b)
    span = 4.0 * b  # a chart shows at least a few buckets around its data
    limits = [HLine(r.limit, f"limit {r.text}") for r in rates if r.period == b]
    hours = [(x.hour, x) for x in data.hours]
    charts.append((line_chart(
        "chart-calls-over-time", f"Calls per {per}",
        [Series("our calls", _epoch([(t, x.calls) for t, x in hours])),
         Series("external usage", _epoch([(t, x.external) for t, x in hours]))],
        hlines=limits, y_label=f"calls / {per}", min_span=span,
    ), "External usage is quota spent elsewhere with the same credentials (api-usage/)."))
    charts.append((line_chart(
        "chart-throttles-retries", f"429s, retries and errors per {per}",
        [Series("429 throttled", _epoch([(t, x.throttled) for t, x in hours]), "#d62728"),
         Series("retries (attempt > 1)", _epoch([(t, x.retries) for t, x in hours]), "#ff7f0e"),
         Series("errors", _epoch([(t, x.errors) for t, x in hours]), "#7f7f7f")],
        y_label=f"count / {per}", min_span=span,
    ), ""))
    lat = data.latency_hours
    charts.append((line_chart(
        "chart-latency", f"Call latency percentiles per {per}",
        [Series("p50", [(x.hour.timestamp(), x.p50) for x in lat if x.hour]),
         Series("p95", [(x.hour.timestamp(), x.p95) for x in lat if x.hour]),
         Series("p99", [(x.hour.timestamp(), x.p99) for x in lat if x.hour])],
        y_label="ms", min_span=span, value_format=lambda v: f"{v:.0f} ms",
    ), ""))  # fmt: skip
    return charts


def _state_charts(data: ReportData) -> list[tuple[str, str]]:
    charts: list[tuple[str, str]] = []
    charts.append((bar_chart(
        "chart-rows-per-resource", "Rows stored per resource",
        [(r.resource, float(r.rows)) for r in data.rows],
    ), "Rows currently in each resource table."))
    charts.append((bar_chart(
        "chart-watermark-lag", "Watermark lag per resource",
        [(x.resource, x.lag_seconds) for x in data.lags], value_format=fmt_duration,
    ), "How far each resource's loaded-up-to point trails the report time."))
    return charts


def _cards(data: ReportData) -> str:
    s = data.summary
    if s is None:
        return ""
    items = [
        ("calls", f"{s.calls:,}", False), ("429s", f"{s.throttled:,}", s.throttled > 0),
        ("errors", f"{s.errors:,}", s.errors > 0), ("retries", f"{s.retries:,}", False),
        ("external usage", f"{s.external:,}", False),
        ("unreported (in flight)", f"{s.in_flight:,}", False),
    ]  # fmt: skip
    if data.latency_all:
        la = data.latency_all
        items.append(("latency p50 / p95 / p99 (ms)",
                      f"{la.p50:.0f} / {la.p95:.0f} / {la.p99:.0f}", False))  # fmt: skip
    items.extend(
        (f"peak {ws.rate.text}", f"{ws.peak:,} / {ws.rate.limit:,}", ws.peak > ws.rate.limit)
        for ws in data.windows
    )
    rejected = sum(sc.rejected for sc in data.scopes)
    items.append(("rejected records", f"{rejected:,}", rejected > 0))
    return '<div class="cards" id="summary">' + "".join(
        f'<div class="card{" bad" if bad else ""}"><div class="v">{html.escape(v)}</div>'
        f'<div class="k">{html.escape(k)}</div></div>'
        for k, v, bad in items
    ) + "</div>"


def _runs_table(runs: Sequence[h.RunSummary]) -> str:
    if not runs:
        return '<p class="empty">No runs recorded in this period.</p>'
    head = ("<tr><th class='l'>run</th><th class='l'>dag</th><th class='l'>first call</th>"
            "<th class='l'>last call</th><th>calls</th><th>429s</th><th>errors</th>"
            "<th>retries</th><th>tasks</th><th>rows</th></tr>")  # fmt: skip
    body = "".join(
        f"<tr><td class='l'>{html.escape(r.run_id)}</td>"
        f"<td class='l'>{html.escape(r.dag_id or '-')}</td>"
        f"<td class='l'>{_ts(r.first)}</td><td class='l'>{_ts(r.last)}</td>"
        f"<td>{r.calls:,}</td><td>{r.throttled:,}</td><td>{r.errors:,}</td><td>{r.retries:,}</td>"
        f"<td>{r.tasks}</td><td>{'-' if r.rows is None else f'{r.rows:,}'}</td></tr>"
        for r in runs
    )
    return f'<table id="recent-runs"><thead>{head}</thead><tbody>{body}</tbody></table>'


def render_html(data: ReportData, rates: Sequence[Rate], title: str = "courtflow report") -> str:
    if data.ledger_missing:
        notice = ("The call ledger table does not exist yet: run the migrations "
                  "(courtflow.store.migrate.upgrade) and a sync first.")  # fmt: skip
    elif data.summary is None:
        notice = "The call ledger is empty: no CourtListener call has been recorded yet."
    else:
        notice = ""
    period = (f"{_ts(data.since)} to {_ts(data.until)}" if data.since and data.until
              else "no calls recorded")  # fmt: skip
    rate_text = ", ".join(r.text for r in rates) or "none configured"
    figures = "\n".join(
        f"<figure>{svg}{f'<figcaption>{html.escape(cap)}</figcaption>' if cap else ''}</figure>"
        for svg, cap in render_charts(data, rates)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="sub">Period: {period} &middot; rates: {html.escape(rate_text)} &middot;
generated {_ts(data.generated_at)}</div>
{f'<p class="empty" id="empty-notice">{html.escape(notice)}</p>' if notice else ""}
{_cards(data)}
<h2>Budget and calls</h2>
{figures}
{comparison_section(data.comparison, rates)}
<h2>Loads by resource and scope</h2>
{scopes_table(data.scopes)}
<h2>Priority classes</h2>
{classes_table(data.classes)}
<h2>429s in this period</h2>
{throttles_table(data.throttles, data.summary.throttled if data.summary else 0)}
<h2>Recent runs</h2>
{_runs_table(data.runs)}
<h2>Rejected records</h2>
{_rejects_table(data.rejects)}
</body></html>
"""


def build_report(
    engine: Engine,
    rates: Sequence[Rate],
    out_path: Path | str,
    *,
    budget_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    title: str = "courtflow report",
    secrets: Sequence[str | Secret | None] = (),
    comparison: Sequence[DesignRun] = (),
) -> Path:
    """Write the report to ``out_path`` (parents created) and return its path."""
    data = gather(engine, rates, budget_key=budget_key, since=since, until=until, now=now,
                  comparison=comparison)  # fmt: skip
    page = redact(render_html(data, rates, title), *secrets)
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
