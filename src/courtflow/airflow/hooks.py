"""``CourtListenerHook``: builds courtflow :class:`Settings` from an Airflow connection.

The connection (type ``courtlistener``) wins over the environment when it exists:
password = API token (masked), host = base URL, extras = ``rates``, ``headroom``,
``safety_margin``, ``database_url``. Without a connection the environment contract
(``COURTLISTENER_API_TOKEN``, ``COURTLISTENER_API_BASE_URL``, ``COURTFLOW_*``) applies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from courtflow.config import Settings

DEFAULT_CONN_ID = "courtlistener_default"


class CourtListenerHook(BaseHook):
    conn_name_attr = "courtlistener_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "courtlistener"
    hook_name = "CourtListener"

    def __init__(self, courtlistener_conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.courtlistener_conn_id = courtlistener_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login"],
            "relabeling": {"host": "Base URL", "password": "API token"},
            "placeholders": {
                "host": "https://www.courtlistener.com/api/rest/v4",
                "password": "40-hex CourtListener API token",
                "extra": '{"rates": "5000/hour", "headroom": 0.1, '
                '"database_url": "postgresql+psycopg://user@host/db"}',
            },
        }

    def get_settings(self) -> Settings:
        """Environment settings, overridden by the connection when one is configured."""
        try:
            conn = self.get_connection(self.courtlistener_conn_id)
        except AirflowNotFoundException:
            return Settings.from_env()
        return settings_from_connection(
            host=conn.host, password=conn.password, extra=conn.extra_dejson, env=os.environ
        )


def settings_from_connection(
    *, host: str | None, password: str | None, extra: Mapping[str, Any], env: Mapping[str, str]
) -> Settings:
    """Merge a connection's fields over the environment; validation is Settings'."""
    merged = dict(env)
    if host:
        merged["COURTLISTENER_API_BASE_URL"] = host
    if password:
        merged["COURTLISTENER_API_TOKEN"] = password
    for key, var in (
        ("rates", "COURTFLOW_RATES"),
        ("headroom", "COURTFLOW_HEADROOM"),
        ("safety_margin", "COURTFLOW_SAFETY_MARGIN"),
        ("database_url", "COURTFLOW_DATABASE_URL"),
        ("max_sleep", "COURTFLOW_MAX_SLEEP"),
    ):
        if extra.get(key) not in (None, ""):
            value = extra[key]
            merged[var] = ",".join(value) if isinstance(value, list) else str(value)
    return Settings.from_env(merged)
