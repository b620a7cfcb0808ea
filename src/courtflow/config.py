"""One settings object for the CLI, the demo and Airflow.

Configuration flows one way: environment (or an Airflow connection, which wins when
present) -> :class:`Settings` -> constructors. No other module reads the environment.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from courtflow.budget.priorities import parse_min_shares, parse_priority
from courtflow.budget.rates import Rate, parse_rates
from courtflow.errors import ConfigError
from courtflow.redact import Secret

DEFAULT_BASE_URL = "https://www.courtlistener.com/api/rest/v4"
DEFAULT_RATES = "5000/hour"
DEFAULT_DATABASE_FILE = "courtflow.sqlite"
DEFAULT_REQUEST_DEADLINE = 120.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_DB_RETRY_SECONDS = 60.0
# Window ends stay this far behind the server's clock. The server stamps date_modified
# when a row is saved (Django auto_now), before its transaction commits; a long
# transaction (a RECAP upload saving hundreds of docket entries, a Celery task inside one
# atomic block) commits seconds to minutes later, so a walk up to the server's "now"
# would pass rows that become visible only after it, and the watermark would hide them
# for good. Five minutes covers the server's ordinary transactions; the catch-up's
# lookback (DEFAULT_LOOKBACK) re-reads the tail for the rare longer one.
DEFAULT_SETTLE_LAG = timedelta(minutes=5)
# A catch-up run starts this long before the watermark: the tail of the last window is
# read again (dlt's "lag"), so a row committed later than the settle lag is still found.
DEFAULT_LOOKBACK = timedelta(hours=1)
# More rejected records than this share of a run's records fails the run.
DEFAULT_MAX_REJECT_RATIO = 0.01
_TOKEN = re.compile(r"^[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to talk to CourtListener and the target database."""

    base_url: str = DEFAULT_BASE_URL
    token: Secret | None = None
    database_url: str = f"sqlite:///{DEFAULT_DATABASE_FILE}"
    rates: tuple[Rate, ...] = field(default_factory=lambda: parse_rates(DEFAULT_RATES))
    headroom: float = 0.0
    safety_margin: float = 1.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 5
    max_sleep: float = 60.0
    # Total time one HTTP attempt may take, body included (the read timeout is per read).
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # How long a database outage is ridden out (retries with backoff) before giving up.
    db_retry_seconds: float = DEFAULT_DB_RETRY_SECONDS
    # The budget's margin is learned from the ledger, up to safety_margin (COURTFLOW_SAFETY_MARGIN
    # "auto", the default), or fixed at safety_margin (a number).
    learn_margin: bool = False
    # Budget priority class of this process's calls (None: incremental) and minimum shares
    # per class ("backfill=0.1"); see courtflow.budget.classes.
    priority: str | None = None
    min_shares: str | None = None
    # How far window ends stay behind the server's clock, how much a catch-up re-reads,
    # and the share of rejected records that fails a run (see the defaults above).
    settle_lag: timedelta = DEFAULT_SETTLE_LAG
    lookback: timedelta = DEFAULT_LOOKBACK
    max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO
    user_agent: str = "courtflow/0.1 (+https://github.com/courtflow; data pipeline)"

    @property
    def budget_key(self) -> str:
        """Identifies the shared quota: a hash of the token, never the token itself."""
        if self.token is None:
            return "anonymous"
        return "token:" + hashlib.sha256(self.token.reveal().encode()).hexdigest()[:16]

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``COURTLISTENER_*`` and ``COURTFLOW_*`` variables; validate every one."""
        env = os.environ if env is None else env
        token_text = env.get("COURTLISTENER_API_TOKEN", "").strip()
        return cls(
            base_url=validate_base_url(env.get("COURTLISTENER_API_BASE_URL", DEFAULT_BASE_URL)),
            token=validate_token(token_text) if token_text else None,
            database_url=validate_database_url(
                env.get("COURTFLOW_DATABASE_URL", f"sqlite:///{DEFAULT_DATABASE_FILE}")
            ),
            rates=parse_rates(env.get("COURTFLOW_RATES", DEFAULT_RATES), name="COURTFLOW_RATES"),
            headroom=_float(env, "COURTFLOW_HEADROOM", 0.0, low=0.0, high=0.99),
            safety_margin=_margin(env),
            learn_margin=_learns_margin(env),
            priority=_priority(env.get("COURTFLOW_PRIORITY")),
            min_shares=_min_shares(env.get("COURTFLOW_MIN_SHARES")),
            max_attempts=int(_float(env, "COURTFLOW_MAX_ATTEMPTS", 5, low=1, high=50)),
            max_sleep=_float(env, "COURTFLOW_MAX_SLEEP", 60.0, low=0.0, high=86400.0),
            request_deadline=_float(
                env, "COURTFLOW_REQUEST_DEADLINE", DEFAULT_REQUEST_DEADLINE, low=1.0, high=3600.0
            ),
            max_body_bytes=int(
                _float(
                    env, "COURTFLOW_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES,
                    low=1024, high=2**31,
                )
            ),
            db_retry_seconds=_float(
                env, "COURTFLOW_DB_RETRY_SECONDS", DEFAULT_DB_RETRY_SECONDS, low=0.0, high=86400.0
            ),
            settle_lag=_duration(env, "COURTFLOW_SETTLE_LAG", DEFAULT_SETTLE_LAG),
            lookback=_duration(env, "COURTFLOW_LOOKBACK", DEFAULT_LOOKBACK),
            max_reject_ratio=_float(
                env, "COURTFLOW_MAX_REJECT_RATIO", DEFAULT_MAX_REJECT_RATIO, low=0.0, high=1.0
            ),
        )


def validate_token(text: str) -> Secret:
    if not _TOKEN.match(text):
        # Never echo the value: it may be a real token with a typo.
        raise ConfigError(
            f"COURTLISTENER_API_TOKEN is malformed: expected 40 hexadecimal characters, "
            f"got {len(text)} characters"
        )
    return Secret(text)


def validate_base_url(text: str) -> str:
    url = text.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        has_credentials = parts.username is not None or parts.password is not None
    except ValueError:
        raise ConfigError("COURTLISTENER_API_BASE_URL is malformed (unparsable URL)") from None
    if has_credentials or "@" in parts.netloc:
        # Never echo the URL: the part before '@' is a secret. httpx would send it as
        # Basic auth to whatever host follows it.
        raise ConfigError(
            "COURTLISTENER_API_BASE_URL must not contain credentials (user:password@host); "
            "put the API token in COURTLISTENER_API_TOKEN"
        )
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"COURTLISTENER_API_BASE_URL is malformed: {url!r} "
            "(expected e.g. https://www.courtlistener.com/api/rest/v4)"
        )
    if re.search(r"/api/rest/v[12](/|$)", parts.path):
        raise ConfigError(
            f"COURTLISTENER_API_BASE_URL points at a retired API version: {url!r}; use /api/rest/v4"
        )
    require_v4(url)
    return url


def require_v4(url: str) -> None:
    """Refuse any API version but v4: the server answers v3 with page numbers on every
    endpoint, whose 100-page cap would silently stop a window's walk."""
    version = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if version != "v4":
        raise ConfigError(
            f"COURTLISTENER_API_BASE_URL must be a v4 API base such as "
            f"https://www.courtlistener.com/api/rest/v4, got {url!r}: check it is the "
            "CourtListener REST API v4 (courtflow relies on v4's cursor pagination; v3 "
            "pages by number and stops after 100 pages)"
        )


_SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgres")


def validate_database_url(text: str) -> str:
    url = text.strip()
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if "://" in url and scheme.isidentifier() and scheme not in _SUPPORTED_SCHEMES:
        raise ConfigError(
            f"COURTFLOW_DATABASE_URL: the {scheme}:// database is not supported; courtflow "
            "stores into SQLite (sqlite:///courtflow.sqlite) or PostgreSQL "
            "(postgresql+psycopg://user@host/db)"
        )
    if "://" not in url or scheme not in _SUPPORTED_SCHEMES:
        raise ConfigError(
            "COURTFLOW_DATABASE_URL is malformed: expected a SQLAlchemy URL such as "
            "sqlite:///courtflow.sqlite or postgresql+psycopg://user@host/db"
        )
    if scheme == "postgres":
        url = "postgresql" + url[len("postgres") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        parent = Path(url[len("sqlite:///") :]).parent
        if str(parent) not in ("", ".") and not parent.exists():
            raise ConfigError(f"COURTFLOW_DATABASE_URL: folder {parent} does not exist")
    return url


def _float(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_duration(text: str, name: str) -> timedelta:
    """``0``, ``90s``, ``30m``, ``12h`` or ``1d`` as a timedelta; ConfigError naming ``name``."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    try:
        seconds = float(value[:-1]) * units[value[-1]]
    except (KeyError, ValueError, IndexError):
        raise ConfigError(f"{name} {text!r}: expected a duration such as 90s, 5m, 1h or 1d") \
            from None
    if not 0 <= seconds <= 366 * 86400:
        raise ConfigError(f"{name} {text!r} must be between 0 and 366 days")
    return timedelta(seconds=seconds)


def duration_text(option: str) -> Callable[[str], str]:
    """An argparse ``type`` that checks a duration option when the command line is read,
    before any set-up or call (the text is kept: messages quote it as given)."""

    def check(text: str) -> str:
        try:
            parse_duration(text, option)
        except ConfigError as exc:
            # argparse names the option itself: "argument --max-wait: 'soon': expected ..."
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{option} ")) from None
        return text

    return check


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name)
    return default if raw is None or raw.strip() == "" else parse_duration(raw, name)


def _learns_margin(env: Mapping[str, str]) -> bool:
    return env.get("COURTFLOW_SAFETY_MARGIN", "auto").strip().lower() in ("", "auto")


def _margin(env: Mapping[str, str]) -> float:
    """``auto`` (default): learned, at most 1 s; a number: that many seconds, fixed."""
    if _learns_margin(env):
        return 1.0
    return _float(env, "COURTFLOW_SAFETY_MARGIN", 1.0, low=0.0, high=3600.0)


def _priority(value: str | None) -> str | None:
    return parse_priority(value, name="COURTFLOW_PRIORITY") if value and value.strip() else None


def _min_shares(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    parse_min_shares(value)  # refuse a malformed value here, naming it
    return value.strip()
