"""``courtflow status`` as text for people (``--json`` prints :func:`status.as_jsonable`)."""

from __future__ import annotations

from datetime import datetime

from courtflow.observe.status import ScopeStatus, Status, TokenStatus
from courtflow.run.plan import fmt_seconds


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _scope_lines(s: ScopeStatus) -> list[str]:
    lag = fmt_seconds(s.lag_seconds) if s.lag_seconds is not None else "-"
    lines = [
        f"  {s.label}",
        f"    watermark {_ts(s.watermark)} (lag {lag}); {s.completed_windows} windows done, "
        f"{s.completed_pages} pages, {s.completed_rows} rows; rejected {s.rejected}",
    ]
    for r in s.loaded[:5]:
        start = "the start" if r.start.year <= 1900 else _ts(r.start)
        lines.append(f"    loaded   [{start}, {_ts(r.end)})")
    if len(s.loaded) > 5:
        lines.append(f"    ... and {len(s.loaded) - 5} more loaded ranges")
    for g in s.gaps[:20]:
        lines.append(f"    GAP      [{_ts(g.start)}, {_ts(g.end)}): never loaded; the "
                     "watermark stops before it (courtflow backfill --gaps fills it)")
    if len(s.gaps) > 20:
        lines.append(f"    ... and {len(s.gaps) - 20} more gaps")
    for w in s.open_windows:
        cursor = (f"next cursor saved {fmt_seconds(w.cursor_age_seconds)} ago"
                  if w.cursor_age_seconds is not None else "no page stored yet")  # fmt: skip
        lines.append(
            f"    OPEN     [{_ts(w.start)}, {_ts(w.end)}): {w.pages} pages, {w.rows} rows, "
            f"{w.calls} calls; {cursor} (run {w.run_id or '-'})"
        )
    return lines


def _token_lines(t: TokenStatus) -> list[str]:
    lines = [f"  {t.budget_key}: room {t.room}"]
    for w in t.windows:
        lines.append(
            f"    {w.rate:<12} used {w.used}/{w.limit}  remaining {w.remaining}  room {w.room}"
        )
    if t.blocked_until is not None:
        lines.append(f"    BLOCKED until {_ts(t.blocked_until)} ({t.block_reason or '429'})")
    if t.server_rates:
        lines.append(f"    server rates (api-usage/): {t.server_rates}")
    for c in t.classes:
        lines.append(
            f"    class {c.priority:<12} last hour: admitted {c.admitted} ({c.share:.0%}), "
            f"queued {c.queued}, wait p50 {c.wait_p50_ms:.0f} ms p95 {c.wait_p95_ms:.0f} ms, "
            f"waiting now {c.waiting}"
        )
    for b in t.bookings:
        owner = ".".join(x for x in (b.dag_id, b.task_id) if x) or "-"
        lines.append(
            f"    booked {b.need} {b.priority} call(s) due {_ts(b.due_at)} "
            f"(held until {_ts(b.lease_until)}; {owner})"
        )
    return lines


def render_status(status: Status) -> str:
    lines = [f"courtflow status at {_ts(status.generated_at)}", "", "loads (resource and scope):"]
    if not status.scopes:
        lines.append("  nothing loaded yet")
    for s in status.scopes:
        lines += _scope_lines(s)
    lines += ["", "call budget (per token and window):"]
    if not status.tokens:
        lines.append("  no call recorded yet")
    for t in status.tokens:
        lines += _token_lines(t)
    lines += ["", f"429s in the last 24 h: {status.throttled_24h}"]
    for th in status.throttles:
        lines.append(
            f"  {_ts(th.at)} {th.endpoint or '-'} (run {th.run_id or '-'}, "
            f"task {th.task_id or '-'})"
        )
    lines.append(f"rejected records: {status.rejected_total}")
    return "\n".join(lines)
