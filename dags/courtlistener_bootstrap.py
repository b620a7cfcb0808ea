"""One-off first load from CourtListener's bulk exports, before the pipeline's first run.

Configuration only. Trigger it once (``airflow dags trigger courtlistener_bootstrap``):
each task streams one export file into the target database of the connection
``courtlistener_default`` (no API call is spent) and sets the resource's watermark to
the export's date minus ``overlap``, so ``courtlistener_pipeline`` then fetches only
what changed since. Set ``date`` to the newest export date listed in the bucket
(https://com-courtlistener-storage.s3-us-west-2.amazonaws.com/list.html?prefix=bulk-data/),
or list ``files`` (URLs or paths on the workers) instead. See the README, "First load
from the bulk exports".
"""

from courtflow.airflow.bootstrap import build_bootstrap_dag

CONFIG = {
    "dag_id": "courtlistener_bootstrap",
    "date": "2026-10-31",
    "exports": ["courts", "people-db-people", "dockets", "opinion-clusters", "opinions"],
    "overlap": "1d",
    "retries": 3,
    "retry_delay": 60,
}

dag = build_bootstrap_dag(CONFIG)
