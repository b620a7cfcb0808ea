"""The report's tables (loads per scope, 429s) and its side-by-side comparison of designs."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from courtflow.budget.classes import ClassStats
from courtflow.budget.rates import Rate
from courtflow.budget.waits import max_admissible
from courtflow.observe.calc import sample_times, window_counts
from courtflow.observe.compare import DesignRun
from courtflow.observe.metrics import window_label
from courtflow.observe.status import ScopeStatus, Throttle
from courtflow.observe.svg import HLine, Series, line_chart
from courtflow.run.plan import fmt_seconds


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def scopes_table(scopes: Sequence[ScopeStatus]) -> str:
    """One row per resource and scope: watermark, lag, windows, open windows, rejects."""
    if not scopes:
        return '<p class="empty" id="scopes">Nothing loaded yet.</p>'
    head = ("<tr><th class='l'>resource and scope</th><th class='l'>watermark</th><th>lag</th>"
            "<th>windows done</th><th>pages</th><th>rows</th><th>open windows</th>"
            "<th>rejected</th></tr>")  # fmt: skip
    body = "".join(
        f"<tr><td class='l'>{html.escape(s.label)}</td><td class='l'>{_ts(s.watermark)}</td>"
        f"<td>{fmt_seconds(s.lag_seconds) if s.lag_seconds is not None else '-'}</td>"
        f"<td>{s.completed_windows:,}</td><td>{s.completed_pages:,}</td>"
        f"<td>{s.completed_rows:,}</td><td>{len(s.open_windows)}</td>"
        f"<td{' class=bad' if s.rejected else ''}>{s.rejected:,}</td></tr>"
        for s in scopes
    )
    return f'<table id="scopes"><thead>{head}</thead><tbody>{body}</tbody></table>'


def throttles_table(throttles: Sequence[Throttle], total: int) -> str:
    if not throttles:
        return '<p id="throttles">No 429 in this period.</p>'
    head = ("<tr><th class='l'>when</th><th class='l'>endpoint</th><th class='l'>run</th>"
            "<th class='l'>task</th></tr>")  # fmt: skip
    body = "".join(
        f"<tr><td class='l'>{_ts(t.at)}</td><td class='l'>{html.escape(t.endpoint or '-')}</td>"
        f"<td class='l'>{html.escape(t.run_id or '-')}</td>"
        f"<td class='l'>{html.escape(t.task_id or '-')}</td></tr>"
        for t in throttles
    )
    more = f"<p>The latest {len(throttles)} of {total:,}.</p>" if total > len(throttles) else ""
    return f'<table id="throttles"><thead>{head}</thead><tbody>{body}</tbody></table>{more}'


def _wait(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else fmt_seconds(ms / 1000)


def classes_table(classes: Sequence[ClassStats]) -> str:
    """Per priority class: calls admitted in the period, their share, and queue waits."""
    if not any(c.admitted or c.waiting for c in classes):
        return '<p id="classes">No call admitted in this period.</p>'
    head = ("<tr><th class='l'>class</th><th>admitted</th><th>share</th><th>queued</th>"
            "<th>wait p50</th><th>wait p95</th><th>wait max</th><th>waiting now</th></tr>")
    body = "".join(
        f"<tr><td class='l'>{html.escape(c.priority)}</td><td>{c.admitted:,}</td>"
        f"<td>{c.share:.0%}</td><td>{c.queued:,}</td>"
        f"<td>{_wait(c.wait_p50_ms)}</td><td>{_wait(c.wait_p95_ms)}</td>"
        f"<td>{_wait(c.wait_max_ms)}</td><td>{c.waiting}</td></tr>"
        for c in classes
    )
    return f'<table id="classes"><thead>{head}</thead><tbody>{body}</tbody></table>'


def comparison_chart_id(design: DesignRun, rate: Rate) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in design.name.lower()).strip("-")
    return f"chart-compare-{slug}-{window_label(rate)}"


def _design_chart(design: DesignRun, rate: Rate, seconds: float) -> str:
    """Admitted calls in the sliding window and 429s in it, over seconds since the start."""
    grid = sample_times(design.started, design.started + seconds, 240)
    admitted = window_counts(design.admitted, rate.period, grid)
    refused = sorted(t for t, status in design.attempts if status == 429)
    throttled = window_counts(refused, rate.period, grid)
    rel = [t - design.started for t in grid]
    return line_chart(
        comparison_chart_id(design, rate),
        f"any {rate.text} window",
        [Series("calls admitted", list(zip(rel, map(float, admitted), strict=True))),
         Series("429s", list(zip(rel, map(float, throttled), strict=True)), "#d62728")],
        hlines=[HLine(rate.limit, f"limit {rate.limit}")], y_label="calls",
        x_format=lambda x: f"{x:.0f} s", width=700, height=280,
    )  # fmt: skip


def comparison_section(designs: Sequence[DesignRun], rates: Sequence[Rate]) -> str:
    """The designs in columns, each window chart beside its counterpart, and the totals."""
    if not designs:
        return ""
    seconds = max(d.seconds for d in designs)
    head = "".join(f"<th>{html.escape(d.name)}</th>" for d in designs)
    rows = [
        ("calls sent", [f"{d.calls:,}" for d in designs]),
        ("429 answers", [f"{d.throttled:,}" for d in designs]),
        ("calls admitted", [f"{len(d.admitted):,}" for d in designs]),
        ("run time", [fmt_seconds(d.seconds) for d in designs]),
        ("the most the rates allow in that time",
         [f"{max_admissible(rates, d.seconds, step=0.01):,}" for d in designs]),
        ("share of it admitted", [f"{d.share_of_allowed(rates):.0%}" for d in designs]),
        *((f"peak in any {r.text} window (limit {r.limit})", [f"{d.peak(r):,}" for d in designs])
          for r in rates),
    ]  # fmt: skip
    body = "".join(
        f"<tr><td class='l'>{html.escape(k)}</td>{''.join(f'<td>{v}</td>' for v in vals)}</tr>"
        for k, vals in rows
    )
    columns = "".join(
        f"<div><h3>{html.escape(d.name)}</h3>"
        + "".join(f"<figure>{_design_chart(d, r, seconds)}</figure>" for r in rates)
        + "</div>"
        for d in designs
    )
    return (
        '<section id="comparison"><h2>Side by side: the same sandbox, rates and time</h2>'
        f"<table id='comparison-totals'><thead><tr><th class='l'></th>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
        f'<div class="side">{columns}</div></section>'
    )
