"""A CourtListener REST v4-compatible server for the demo, tests and benchmarks.

It serves the real fixtures plus deterministic synthetic records, paginates and filters
as the real server does, and throttles per token with the server's sliding-log rule.

>>> with start_sandbox(SandboxConfig(rates=("20/2s", "150/20s"))) as sandbox:  # doctest: +SKIP
...     r = httpx.get(f"{sandbox.url}/dockets/", params={"order_by": "date_modified"},
...                   headers={"Authorization": f"Token {DEMO_TOKEN}"})
"""

from courtflow.sandbox.config import DEMO_TOKEN, FaultConfig, SandboxConfig
from courtflow.sandbox.server import (
    RunningSandbox,
    SandboxState,
    serve,
    start_sandbox,
    token_label,
)

__all__ = [
    "DEMO_TOKEN",
    "FaultConfig",
    "RunningSandbox",
    "SandboxConfig",
    "SandboxState",
    "serve",
    "start_sandbox",
    "token_label",
]
