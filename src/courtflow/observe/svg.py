"""Tiny SVG chart helpers for the self-contained report: line charts and bar charts.

No JavaScript and no external assets: each function returns one ``<svg>`` element as a
string, with ``id``/``data-chart`` attributes and a ``<title>``/``<desc>`` that screen
readers announce. Charts scale to the page's width (``viewBox``); every data point and
bar carries a ``<title>``, which browsers show on hover. Every text goes through XML
escaping.

    svg = line_chart("calls", "Calls per hour", [Series("calls", [(t0, 3.0), (t1, 5.0)])],
                     hlines=[HLine(5000, "limit 5000/hour")])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
)  # fmt: skip
LIMIT_COLOR = "#d62728"
WIDTH, HEIGHT = 1200, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 45, 40, 45


@dataclass(frozen=True)
class Series:
    """A named line: ``points`` are (x, y), x usually epoch seconds."""

    name: str
    points: Sequence[tuple[float, float]]
    color: str | None = None


@dataclass(frozen=True)
class HLine:
    """A horizontal reference line, such as a rate limit."""

    value: float
    label: str
    color: str = LIMIT_COLOR


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten close to ``span / target_ticks``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return float(mult * power)
    return float(10 * power)


def nice_ticks(top: float, target_ticks: int = 5) -> list[float]:
    """Ticks from 0 to at least ``top``."""
    step = nice_step(top, target_ticks)
    count = max(1, math.ceil(top / step - 1e-9))
    return [i * step for i in range(count + 1)]


def fmt_number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def time_formatter(first: float, last: float) -> Callable[[float], str]:
    """Label epoch seconds with as much precision as the span needs (UTC)."""
    span = last - first
    fmt = ("%H:%M:%S" if span < 600 else "%H:%M" if span < 86400
           else "%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d")  # fmt: skip
    return lambda x: datetime.fromtimestamp(x, UTC).strftime(fmt)


def hover_time(x: float) -> str:
    """A data point's exact instant, for its hover title."""
    return datetime.fromtimestamp(x, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _open_svg(chart_id: str, title: str, desc: str, width: int, height: int) -> list[str]:
    ident = quoteattr(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={ident} data-chart={ident} role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'width="100%" viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" '
        f'style="max-width:100%;height:auto" font-family="sans-serif" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN_LEFT}" y="22" font-size="15" font-weight="bold" fill="#222">'
        f"{escape(title)}</text>",
    ]


def empty_chart(chart_id: str, title: str, message: str, width: int = WIDTH) -> str:
    """A chart frame that says why there is nothing to draw."""
    height = 90
    parts = _open_svg(chart_id, title, message, width, height)
    parts.append(
        f'<text x="{MARGIN_LEFT}" y="60" fill="#666" font-style="italic">{escape(message)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(names: Sequence[tuple[str, str, bool]], width: int) -> list[str]:
    parts, x = [], width - MARGIN_RIGHT
    for name, color, dashed in reversed(names):
        x -= 16 + 7 * len(name) + 14
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(
            f'<line x1="{x}" y1="18" x2="{x + 14}" y2="18" stroke="{color}" '
            f'stroke-width="3"{dash}/>'
            f'<text x="{x + 18}" y="22" fill="#333">{escape(name)}</text>'
        )
    return parts


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    hlines: Sequence[HLine] = (),
    y_label: str = "",
    x_format: Callable[[float], str] | None = None,
    desc: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
    min_span: float = 2.0,
    value_format: Callable[[float], str] = fmt_number,
) -> str:
    """Lines over a shared x axis with optional horizontal reference lines.

    ``min_span`` widens a too-narrow x axis around its data (one hourly point would
    otherwise get an axis two seconds wide). Each point has a hover ``<title>``: the
    series, its x (as the axis labels it, with seconds) and its value.
    """
    xs = [x for s in series for x, _ in s.points]
    if not xs:
        return empty_chart(chart_id, title, "No data in this period.", width)
    x0, x1 = min(xs), max(xs)
    if x1 - x0 < min_span:
        pad = (min_span - (x1 - x0)) / 2
        x0, x1 = x0 - pad, x1 + pad
    top = max([y for s in series for _, y in s.points] + [h.value for h in hlines] + [1.0])
    ticks = nice_ticks(top * 1.05)
    y_top = ticks[-1]
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h - (y / y_top) * plot_h

    fmt_x = x_format or time_formatter(x0, x1)
    fmt_hover = x_format or hover_time
    parts = _open_svg(chart_id, title, desc or title, width, height)
    parts.append('<g class="axes" stroke="#ccc" stroke-width="1">')
    for t in ticks:
        parts.append(f'<line x1="{MARGIN_LEFT}" y1="{py(t):.1f}" x2="{width - MARGIN_RIGHT}" '
                     f'y2="{py(t):.1f}"/>')  # fmt: skip
    parts.append("</g>")
    parts.extend(
        f'<text x="{MARGIN_LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end" fill="#555">'
        f"{escape(fmt_number(t))}</text>"
        for t in ticks
    )
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        parts.append(
            f'<text x="{px(x):.1f}" y="{height - MARGIN_BOTTOM + 18}" text-anchor="middle" '
            f'fill="#555">{escape(fmt_x(x))}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="14" y="{MARGIN_TOP + plot_h / 2:.1f}" fill="#555" text-anchor="middle" '
            f'transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
        )
    legend: list[tuple[str, str, bool]] = []
    for h in hlines:
        parts.append(
            f'<line class="hline" x1="{MARGIN_LEFT}" y1="{py(h.value):.1f}" '
            f'x2="{width - MARGIN_RIGHT}" y2="{py(h.value):.1f}" stroke="{h.color}" '
            'stroke-width="2" stroke-dasharray="6 4"/>'
        )
        legend.append((h.label, h.color, True))
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        parts.append(
            f'<polyline class="series" data-series={quoteattr(s.name)} fill="none" '
            f'stroke="{color}" stroke-width="2" points="{pts}"/>'
        )
        if len(s.points) == 1:
            (x, y), = s.points
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        # Invisible targets: hovering a point shows its value (no script needed).
        parts.append(f'<g class="points" fill="{color}" fill-opacity="0">')
        parts.extend(
            f'<circle class="pt" cx="{px(x):.1f}" cy="{py(y):.1f}" r="5">'
            f"<title>{escape(f'{s.name}: {value_format(y)} at {fmt_hover(x)}')}</title></circle>"
            for x, y in s.points
        )
        parts.append("</g>")
        legend.append((s.name, color, False))
    parts.extend(_legend(legend, width))
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    value_format: Callable[[float], str] = fmt_number,
    desc: str = "",
    width: int = WIDTH,
    color: str = PALETTE[0],
) -> str:
    """Horizontal bars, one per label, with the value printed at the end of each bar."""
    if not bars:
        return empty_chart(chart_id, title, "No data in this period.", width)
    row_h, label_w = 26, 170
    height = MARGIN_TOP + row_h * len(bars) + 20
    top = max(max(v for _, v in bars), 1e-9)
    plot_w = width - label_w - MARGIN_RIGHT - 90
    parts = _open_svg(chart_id, title, desc or title, width, height)
    for i, (label, value) in enumerate(bars):
        y = MARGIN_TOP + i * row_h
        w = max(0.0, value) / top * plot_w
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" fill="#333">'
            f"{escape(label)}</text>"
            f'<rect class="bar" data-label={quoteattr(label)} x="{label_w}" y="{y + 4}" '
            f'width="{w:.1f}" height="{row_h - 8}" fill="{color}">'
            f"<title>{escape(f'{label}: {value_format(value)}')}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" fill="#333">'
            f"{escape(value_format(value) + (' ' + unit if unit else ''))}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
