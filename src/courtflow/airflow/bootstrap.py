"""The one-off bootstrap DAG: load CourtListener's bulk exports, then let the pipeline
continue through the API from each resource's watermark.

``CourtListenerBootstrapOperator`` loads one export file (a URL or a path on the worker)
into the target database of the connection; :func:`build_bootstrap_dag` makes one task
per file from configuration. Loads resume after a failed try (per-file checkpoint), so
the task's retries are safe; a file that cannot be loaded as it is (wrong export, broken
quoting...) fails the task without retry, except when it came over the network, where a
cut download is worth another try.

    dag = build_bootstrap_dag({"dag_id": "courtlistener_bootstrap", "date": "2026-10-31",
                               "exports": ["courts", "dockets"]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, BaseOperator, Context

from courtflow.airflow.hooks import DEFAULT_CONN_ID, CourtListenerHook
from courtflow.airflow.operators import CourtListenerFatalError
from courtflow.errors import BulkFileError, ConfigError, FatalError

# Where Free Law Project publishes the exports: the public bucket scripts/make_bulk_data.sh
# streams them to (s3://com-courtlistener-storage/bulk-data/).
BULK_BASE_URL = "https://com-courtlistener-storage.s3-us-west-2.amazonaws.com/bulk-data/"
# Loading order: referenced tables first, as the server's own load script does.
DEFAULT_EXPORTS: tuple[str, ...] = (
    "courts", "people-db-people", "dockets", "opinion-clusters", "opinions",
)  # fmt: skip


class CourtListenerBootstrapOperator(BaseOperator):
    """Load one bulk export file; returns the file's result (rows read and written)."""

    template_fields: Sequence[str] = ("file",)

    def __init__(
        self,
        *,
        file: str,
        resource: str | None = None,
        filters: Mapping[str, str] | None = None,
        load_all: bool = False,
        overlap: str = "1d",
        courtlistener_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file = file
        self.resource = resource
        self.filters = dict(filters or {})
        self.load_all = load_all
        self.overlap = overlap
        self.courtlistener_conn_id = courtlistener_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from courtflow.bootstrap import BootstrapOptions, bootstrap
        from courtflow.config import parse_duration
        from courtflow.store.engine import make_engine
        from courtflow.store.migrate import upgrade

        settings = None
        try:
            settings = CourtListenerHook(self.courtlistener_conn_id).get_settings()
            engine = make_engine(settings.database_url)
            upgrade(engine)
            options = BootstrapOptions(
                resource=self.resource, filters=self.filters, load_all=self.load_all,
                overlap=parse_duration(self.overlap, "overlap"), run_id=context["run_id"],
                api_base=settings.base_url,
            )  # fmt: skip
            [result] = bootstrap(engine, [self.file], options)
        except BulkFileError as exc:
            if self.file.startswith(("http://", "https://")):
                raise  # a cut download: the retry resumes after the last committed chunk
            raise CourtListenerFatalError(exc) from None
        except FatalError as exc:
            raise CourtListenerFatalError(exc, settings.token if settings else None) from None
        summary = {**result.as_dict(), "api_calls": 0}
        self.log.info("bootstrapped %s", summary)
        return summary


def _files(config: Mapping[str, Any]) -> list[str]:
    if config.get("files"):
        return [str(f) for f in config["files"]]
    date = config.get("date")
    if not date:
        raise ConfigError("bootstrap DAG: give 'files', or 'date' (YYYY-MM-DD) of the exports")
    base = str(config.get("base_url", BULK_BASE_URL)).rstrip("/") + "/"
    return [f"{base}{name}-{date}.csv.bz2" for name in config.get("exports", DEFAULT_EXPORTS)]


def build_bootstrap_dag(config: Mapping[str, Any]) -> DAG:
    """A manually triggered DAG with one task per export file, run one after another.

    Keys: ``dag_id``; ``files`` (URLs or paths) or ``date`` + optional ``exports`` and
    ``base_url``; optional ``filters``, ``load_all``, ``overlap`` ("1d"),
    ``courtlistener_conn_id``, ``retries`` (3), ``retry_delay`` (seconds, 60).
    """
    files = _files(config)
    with DAG(
        dag_id=str(config.get("dag_id", "courtlistener_bootstrap")),
        description="First load from CourtListener's bulk exports (no API call)",
        schedule=None,  # one-off: trigger it once, before the pipeline's first run
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args={
            "retries": int(config.get("retries", 3)),
            "retry_delay": timedelta(seconds=float(config.get("retry_delay", 60))),
        },
        tags=["courtlistener"],
    ) as dag:
        previous: BaseOperator | None = None
        for index, file in enumerate(files):
            name = file.rstrip("/").rsplit("/", 1)[-1].split(".csv", 1)[0]
            task = CourtListenerBootstrapOperator(
                task_id=f"load_{index:02d}_{name}".replace("-", "_")[:200],
                file=file,
                filters=config.get("filters"),
                load_all=bool(config.get("load_all", False)),
                overlap=str(config.get("overlap", "1d")),
                courtlistener_conn_id=str(
                    config.get("courtlistener_conn_id", DEFAULT_CONN_ID)
                ),
            )
            if previous is not None:
                previous >> task
            previous = task
    return dag
