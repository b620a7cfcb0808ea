"""Provider metadata, registered through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

import courtflow


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "courtflow",
        "name": "CourtListener (courtflow)",
        "description": "Rate-budgeted, idempotent ingestion from the CourtListener REST API.",
        "versions": [courtflow.__version__],
        "connection-types": [
            {
                "connection-type": "courtlistener",
                "hook-class-name": "courtflow.airflow.hooks.CourtListenerHook",
            }
        ],
    }
