"""``CourtListenerHook``: courtflow settings, budget and client from an Airflow connection.

The connection (type ``courtlistener``) is where the secrets live: any Airflow secrets
backend works, e.g. the environment::

    AIRFLOW_CONN_COURTLISTENER_DEFAULT='{"conn_type": "courtlistener",
        "host": "https://www.courtlistener.com/api/rest/v4", "password": "<token>",
        "extra": {"rates": "5000/hour", "headroom": 0.1,
                  "database_url": "postgresql+psycopg://courtflow@db/courtflow"}}'

password = API token (masked in the UI and in task logs), host = base URL, extras =
``rates``, ``headroom``, ``safety_margin``, ``max_sleep``, ``max_attempts``,
``database_url``. Fields the connection leaves empty fall back to the environment
contract (``COURTLISTENER_API_TOKEN``, ``COURTFLOW_*``); without the default connection
the environment alone applies. DAG code never carries a secret.

>>> hook = CourtListenerHook("courtlistener_default")      # doctest: +SKIP
>>> with hook.open_pipeline(run_id=run_id) as pipeline:     # doctest: +SKIP
...     pipeline.sync(get_resource("dockets"), window, run_id=run_id)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from courtflow.config import Settings
from courtflow.errors import ConfigError

if TYPE_CHECKING:
    from courtflow.budget.budget import Budget
    from courtflow.client import CourtListenerClient
    from courtflow.run.sync import Pipeline

DEFAULT_CONN_ID = "courtlistener_default"
CONN_TYPE = "courtlistener"
DEFAULT_PATH = "/api/rest/v4"

# Connection extra -> the environment variable of the same setting (Settings.from_env).
EXTRA_SETTINGS: dict[str, str] = {
    "rates": "COURTFLOW_RATES",
    "headroom": "COURTFLOW_HEADROOM",
    "safety_margin": "COURTFLOW_SAFETY_MARGIN",
    "max_sleep": "COURTFLOW_MAX_SLEEP",
    "max_attempts": "COURTFLOW_MAX_ATTEMPTS",
    "min_shares": "COURTFLOW_MIN_SHARES",
    "database_url": "COURTFLOW_DATABASE_URL",
    "settle_lag": "COURTFLOW_SETTLE_LAG",
    "lookback": "COURTFLOW_LOOKBACK",
    "max_reject_ratio": "COURTFLOW_MAX_REJECT_RATIO",
}


class CourtListenerHook(BaseHook):
    """Builds courtflow's :class:`Settings`, :class:`Budget` and client from a connection."""

    conn_name_attr = "courtlistener_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "CourtListener"

    def __init__(self, courtlistener_conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.courtlistener_conn_id = courtlistener_conn_id

    # -- settings ----------------------------------------------------------------------
    def get_settings(self) -> Settings:
        """The connection's settings over the environment's; the token is masked in logs."""
        try:
            conn = self.get_connection(self.courtlistener_conn_id)
        except AirflowNotFoundException:
            return _masked(self._environment_only())
        return _masked(_from_connection(conn))

    async def aget_settings(self) -> Settings:
        """:meth:`get_settings` for async code (triggers): never blocks the event loop."""
        try:
            conn = await self.aget_connection(self.courtlistener_conn_id)
        except AirflowNotFoundException:
            settings = self._environment_only()
        else:
            settings = _from_connection(conn)
        if settings.token:
            from airflow.sdk.log import amask_secret

            # The sync mask_secret would talk to the supervisor from the event loop.
            await amask_secret(settings.token.reveal())
        return settings

    def _environment_only(self) -> Settings:
        if self.courtlistener_conn_id != DEFAULT_CONN_ID:
            # A named connection that does not exist is a mistake, not a fallback.
            raise ConfigError(
                f"Airflow connection {self.courtlistener_conn_id!r} is not defined "
                "(add it in the UI, a secrets backend or AIRFLOW_CONN_<ID>)"
            )
        return Settings.from_env()

    # -- the core objects ----------------------------------------------------------------
    def get_budget(self, settings: Settings | None = None, **ids: Any) -> Budget:
        """The shared call budget of this connection's token (target database migrated)."""
        from courtflow.airflow.logging import quiet_migrations
        from courtflow.budget.budget import Budget
        from courtflow.store.engine import make_engine
        from courtflow.store.migrate import upgrade

        quiet_migrations()  # checked on every task stretch and trigger: say it once
        settings = settings or self.get_settings()
        engine = make_engine(settings.database_url)
        upgrade(engine)
        return Budget.from_settings(settings, engine, **ids)

    def get_conn(self) -> CourtListenerClient:
        """A client whose every attempt is reserved from the budget; close it after use."""
        from courtflow.client import CourtListenerClient

        settings = self.get_settings()
        return CourtListenerClient(settings, self.get_budget(settings))

    def open_pipeline(self, **kwargs: Any) -> AbstractContextManager[Pipeline]:
        """:func:`courtflow.run.sync.open_pipeline` with this connection's settings."""
        from courtflow.airflow.logging import quiet_migrations
        from courtflow.run.sync import open_pipeline

        quiet_migrations()
        settings = kwargs.pop("settings", None) or self.get_settings()
        return open_pipeline(settings, **kwargs)

    def test_connection(self) -> tuple[bool, str]:
        """The UI's *Test* button: reads ``api-usage/``, which costs no quota."""
        from courtflow.client import CourtListenerClient
        from courtflow.redact import redact

        try:
            settings = self.get_settings()
            with CourtListenerClient(settings) as client:
                usage = client.api_usage()
        except Exception as exc:  # the message is shown in the UI: never the token
            return False, f"{type(exc).__name__}: {redact(str(exc))}"
        rates = ", ".join(f"{w.rate} ({w.remaining} left)" for w in usage.user_windows)
        return True, f"CourtListener reachable; rates: {rates or 'not reported'}"


def settings_from_connection(
    *, host: str | None, password: str | None, extra: Mapping[str, Any],
    env: Mapping[str, str], port: int | None = None, schema: str | None = None,
) -> Settings:  # fmt: skip
    """Merge a connection's fields over ``env``; validation is :class:`Settings`'.

    ``host`` is normally the whole base URL; a bare host name gets ``https://`` (or
    ``schema://``), the port and the v4 path.
    """
    merged = dict(env)
    if host:
        merged["COURTLISTENER_API_BASE_URL"] = base_url_from(host, port=port, schema=schema)
    if password:
        merged["COURTLISTENER_API_TOKEN"] = password
    given: dict[str, str] = {}
    for key, var in EXTRA_SETTINGS.items():
        # The UI may store form fields prefixed (extra__courtlistener__rates).
        value = extra.get(key, extra.get(f"extra__{CONN_TYPE}__{key}"))
        if value not in (None, ""):
            merged[var] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            given[var] = key
    try:
        return Settings.from_env(merged)
    except ConfigError as exc:
        # Name the field the user typed, not only the variable it stands for.
        message = str(exc)
        for var, key in given.items():
            if message.startswith(var):
                raise ConfigError(f"the connection's {key!r} field ({var}){message[len(var):]}") \
                    from None
        raise


def base_url_from(host: str, *, port: int | None = None, schema: str | None = None) -> str:
    text = host.strip().rstrip("/")
    if "://" in text:
        return text
    scheme = schema if schema in ("http", "https") else "https"
    netloc, _, path = text.partition("/")
    if port:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{'/' + path if path else DEFAULT_PATH}"


def _from_connection(conn: Any) -> Settings:
    extra = conn.extra_dejson if conn.extra else {}
    return settings_from_connection(
        host=conn.host, password=conn.password, extra=extra, env=os.environ,
        port=conn.port, schema=conn.schema,
    )  # fmt: skip


def _masked(settings: Settings) -> Settings:
    """Register the token with Airflow's secrets masker (the connection's already is)."""
    if settings.token:
        from airflow.sdk.log import mask_secret

        mask_secret(settings.token.reveal())
    return settings
