"""The CourtListener HTTP client: the one place that speaks HTTP to CourtListener.

Decision on Free Law Project's SDK (``courtlistener-api-client`` 1.2.0): not used.
- It builds its own ``httpx.Client`` (no transport or client injection), so a per-attempt
  gate means patching a private attribute, and it has no retries, Retry-After or 429 handling.
- One ``CourtListenerAPIError`` for every status; no 401/429/410/5xx classes to decide by,
  and no redirect following (a 301 from a merged cluster raises).
- It re-roots ``next`` URLs onto its base (path+query kept, host dropped) instead of checking
  the host; its checkpoint (``dump()``) is the whole current page, not the ``next`` URL.
- It reads the environment itself and keeps the token as a plain ``str`` attribute; it also
  pulls pydantic models for ~100 endpoints we do not need. What we take from it: the
  ``COURTLISTENER_API_TOKEN`` / ``COURTLISTENER_API_BASE_URL`` names (see ``config.py``).

>>> with CourtListenerClient(settings, gate) as client:
...     usage = client.api_usage()
...     for page in client.iter_pages(get_resource("dockets"), since=start, until=end):
...         ...
"""

from courtflow.client.courtlistener import CourtListenerClient
from courtflow.client.gate import CallGate, CallReport, PassThroughGate, Ticket
from courtflow.client.paging import Page
from courtflow.client.retry import RetryPolicy, classify, should_retry
from courtflow.client.usage import ApiUsage, UsageWindow, parse_api_usage

__all__ = [
    "ApiUsage",
    "CallGate",
    "CallReport",
    "CourtListenerClient",
    "Page",
    "PassThroughGate",
    "RetryPolicy",
    "Ticket",
    "UsageWindow",
    "classify",
    "parse_api_usage",
    "should_retry",
]
