"""Processes for the usage-elsewhere tests: each reconciles, or syncs, when released.

Lives outside the test module so that ``spawn``-ed processes can import it by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from courtflow.budget.budget import Budget
from courtflow.catalogue.resources import get_resource
from courtflow.catalogue.window import Window
from courtflow.client import CourtListenerClient
from courtflow.config import Settings
from courtflow.run.sync import open_pipeline
from courtflow.sandbox import DEMO_TOKEN
from courtflow.sandbox.lockstep import Lockstep
from courtflow.store import get_checkpoint
from courtflow.store.engine import make_engine


@dataclass(frozen=True)
class Job:
    db_url: str
    sandbox_url: str
    rates: str = "5000/hour"


def settings_of(job: Job) -> Settings:
    return Settings.from_env(
        {
            "COURTLISTENER_API_BASE_URL": job.sandbox_url,
            "COURTLISTENER_API_TOKEN": DEMO_TOKEN,
            "COURTFLOW_DATABASE_URL": job.db_url,
            "COURTFLOW_RATES": job.rates,
            "COURTFLOW_SAFETY_MARGIN": "0.3",
        }
    )


def reconciler(job: Job, lockstep: Lockstep) -> int:
    """Reconcile with api-usage/ once, released together with the others."""
    settings = settings_of(job)
    budget = Budget.from_settings(settings, make_engine(settings.database_url))
    with CourtListenerClient(settings) as client:
        budget.usage_source = client.api_usage
        lockstep.wait_for_start()
        return budget.sync_with_server()


def syncer(job: Job, lockstep: Lockstep) -> tuple[int, bool]:
    """Start a pipeline (which reconciles) and sync one day of dockets (a day picked by
    process id, so most processes have work of their own): (pages, window complete)."""
    settings = settings_of(job)
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=os.getpid() % 50)
    lockstep.wait_for_start()
    with open_pipeline(settings, run_id=f"sixteen-{os.getpid()}") as p:
        window = Window(start, start + timedelta(days=1))
        result = p.sync(get_resource("dockets"), window, run_id="sixteen")
        with p.engine.begin() as conn:
            done = get_checkpoint(conn, "dockets", window.start, window.end)
    return result.pages, done is not None and done.done
