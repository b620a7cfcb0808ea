"""``python -m courtflow.sandbox`` in a subprocess: announces its URL, serves, stops quietly."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from bounds import bound
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.__main__ import build_parser, config_from_args

pytestmark = pytest.mark.timeout(60)


def test_the_module_prints_its_url_serves_and_exits_on_sigterm() -> None:
    command = [
        sys.executable, "-m", "courtflow.sandbox", "--port", "0", "--rates", "20/2s,150/20s",
        "--seed", "1", "--volume", "dockets=300", "--volume", "clusters=50",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("SANDBOX_URL=http://127.0.0.1:"), line
        url = line.split("=", 1)[1]
        assert url.endswith("/api/rest/v4")
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        count = httpx.get(f"{url}/dockets/", params={"count": "on"}, headers=headers, timeout=10)
        usage = httpx.get(f"{url}/api-usage/", headers=headers, timeout=10).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=bound(20))
    assert count.json() == {"count": 300 + 6}  # synthetic dockets plus the fixture dockets
    assert [r["rate"] for r in usage["current_usage"] if r["scope"] == "user"] == [
        "20/2s",
        "150/20s",
    ]
    assert proc.returncode == 0
    assert err == ""  # quiet by default: no per-request lines
    assert DEMO_TOKEN not in out + err


def test_command_line_options_build_the_configuration() -> None:
    args = build_parser().parse_args(
        ["--rates", "5/min,50/hour", "--volume", "people=7,opinions=9", "--blocked-token",
         "f" * 40, "--fault", "seed=4,p_500=0.25", "--fault", "burst_length=2",
         "--start", "2023-01-01T00:00:00Z", "--latency-ms", "3"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.rates == ("5/min", "50/hour")
    assert config.volume("people") == 7 and config.volume("opinions") == 9
    assert config.volume("dockets") == 2000
    assert config.blocked_tokens == ("f" * 40,)
    assert (config.faults.seed, config.faults.p_500, config.faults.burst_length) == (4, 0.25, 2)
    assert config.start.year == 2023 and config.latency_ms == 3.0
