"""python -m courtflow.sandbox: serve the sandbox until interrupted.

Prints SANDBOX_URL=<url> on stdout once listening, so a parent process can use
--port 0 and read the port chosen. Example:

    python -m courtflow.sandbox --port 0 --rates 20/2s,150/20s --seed 1 \\
        --volume dockets=5000 --fault p_500=0.05 --fault seed=3
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

from courtflow.errors import ConfigError
from courtflow.sandbox.config import DEMO_TOKEN, FaultConfig, SandboxConfig
from courtflow.sandbox.server import serve

_FAULT_FIELDS = {f.name: f.type for f in dataclasses.fields(FaultConfig)}


def _csv(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        for part in _csv(item):
            name, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(f"--{what} expects NAME=VALUE, got {part!r}")
            pairs[name.strip()] = value.strip()
    return pairs


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ConfigError(f"{text!r} needs a time zone (e.g. 2024-01-01T00:00:00Z)")
    return moment


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="courtflow sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--rates", type=_csv, default=("5000/hour",), help="e.g. 20/2s,150/20s")
    p.add_argument("--api-usage-rates", type=_csv, default=("10/min", "120/hour"),
                   help="api-usage/'s own rates (default 10/min,120/hour)")  # fmt: skip
    p.add_argument(
        "--token", action="append", help=f"accepted token (default the demo token {DEMO_TOKEN})"
    )
    p.add_argument(
        "--blocked-token",
        action="append",
        default=[],
        help="token answered 429 without Retry-After",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic records")
    p.add_argument("--volume", action="append", default=[], help="RESOURCE=N, e.g. dockets=5000")
    p.add_argument("--start", type=_moment, help="first synthetic date_modified (ISO 8601)")
    p.add_argument("--end", type=_moment, help="end of the synthetic date_modified range")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    p.add_argument(
        "--retry-after-form", choices=("seconds", "http-date"), default="seconds",
        help="how a 429's Retry-After states the wait",
    )  # fmt: skip
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        help="fault setting NAME=VALUE (seed, p_500, p_502, p_503, p_reset, "
        "p_truncated, p_invalid_json, p_slow, slow_seconds, p_429_burst, "
        "burst_retry_after, burst_length)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log each request at DEBUG")
    return p


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    faults: dict[str, float | int] = {}
    for name, value in _pairs(args.fault, "fault").items():
        if name not in _FAULT_FIELDS:
            raise ConfigError(f"unknown fault setting {name!r}; known: {sorted(_FAULT_FIELDS)}")
        kind = _FAULT_FIELDS[name]
        faults[name] = int(value) if kind in (int, "int") else float(value)
    volumes = {name: int(n) for name, n in _pairs(args.volume, "volume").items()}
    defaults = SandboxConfig()
    return SandboxConfig(
        rates=tuple(args.rates),
        tokens=tuple(args.token) if args.token else (DEMO_TOKEN,),
        blocked_tokens=tuple(args.blocked_token),
        seed=args.seed,
        volumes={**defaults.volumes, **volumes},
        start=args.start or defaults.start,
        end=args.end or defaults.end,
        faults=FaultConfig(**faults),  # type: ignore[arg-type]
        latency_ms=args.latency_ms,
        api_usage_rates=tuple(args.api_usage_rates),
        retry_after_form=args.retry_after_form,
    )


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    try:
        config = config_from_args(args)
    except (ConfigError, ValueError) as exc:
        print(f"courtflow sandbox: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    serve(config, args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
