"""Provider metadata, registered through the ``apache_airflow_provider`` entry point.

Plain data, as Airflow's ``provider_info.schema.json`` expects: Airflow reads the
connection form (field behaviour and extra fields) from here without importing the
hook, so ``airflow providers behaviours`` / ``widgets`` and the UI know the
``courtlistener`` connection type as soon as the package is installed.
"""

from __future__ import annotations

from typing import Any

import courtflow

INTEGRATION = "CourtListener"
CONN_TYPE = "courtlistener"
HOOK_CLASS = "courtflow.airflow.hooks.CourtListenerHook"

# Extra fields of the connection; each maps to one courtflow setting (see hooks.py).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "rates": {
        "label": "Rates",
        "schema": {"type": ["string", "null"]},
        "description": "Call budget as N/period rates, comma-separated "
        "(default 5000/hour; e.g. 5/min,50/hour,125/day).",
    },
    "headroom": {
        "label": "Headroom",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 0.99},
        "description": "Fraction of every limit left to other users of the same token (0..0.99).",
    },
    "safety_margin": {
        "label": "Safety margin (s)",
        "schema": {"type": ["number", "null"], "minimum": 0},
        "description": "Seconds added to every window for latency and clock skew; empty: "
        "learned from the ledger's call timings, at most 1 s.",
    },
    "max_sleep": {
        "label": "Max sleep (s)",
        "schema": {"type": ["number", "null"], "minimum": 0},
        "description": "Budget waits up to this long sleep in the task; longer ones defer "
        "to the triggerer (default 60).",
    },
    "max_attempts": {
        "label": "Max attempts",
        "schema": {"type": ["integer", "null"], "minimum": 1},
        "description": "HTTP attempts per request inside one task try (default 5).",
    },
    "min_shares": {
        "label": "Minimum shares",
        "schema": {"type": ["string", "null"]},
        "description": "Budget share kept for lower priority classes so they never starve "
        "(e.g. backfill=0.1).",
    },
    "settle_lag": {
        "label": "Settle lag",
        "schema": {"type": ["string", "null"]},
        "description": "How far window ends stay behind the server's clock, for rows "
        "committed late (default 5m).",
    },
    "lookback": {
        "label": "Lookback",
        "schema": {"type": ["string", "null"]},
        "description": "A catch-up run starts this long before the watermark (default 1h).",
    },
    "max_reject_ratio": {
        "label": "Max reject ratio",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "description": "Share of a window's records that may be rejected before the task "
        "fails (default 0.01).",
    },
    "database_url": {
        "label": "Target database URL",
        # Sensitive: a database URL usually carries a password.
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": "SQLAlchemy URL of the target database, which also holds the shared "
        "call ledger (e.g. postgresql+psycopg://user:pass@host/db).",
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"host": "Base URL", "password": "API token"},
    "placeholders": {
        "host": "https://www.courtlistener.com/api/rest/v4",
        "password": "40-hex CourtListener API token",
        "rates": "5000/hour",
        "headroom": "0.1",
        "database_url": "postgresql+psycopg://user:password@host:5432/courtflow",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "courtflow",
        "name": "CourtListener (courtflow)",
        "description": "Rate-budgeted, idempotent ingestion from the CourtListener REST API",
        "versions": [courtflow.__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://www.courtlistener.com/help/api/rest/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["courtflow.airflow.hooks"]}
        ],
        "operators": [
            {"integration-name": INTEGRATION, "python-modules": ["courtflow.airflow.operators"]}
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["courtflow.airflow.sensors"]}
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["courtflow.airflow.triggers"]}
        ],
        "notifications": [
            "courtflow.airflow.notifications.WebhookNotifier",
            "courtflow.airflow.notifications.SlackAlertNotifier",
            "courtflow.airflow.notifications.EmailAlertNotifier",
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": HOOK_CLASS,
                "hook-name": INTEGRATION,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
