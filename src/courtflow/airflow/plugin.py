"""The quota view inside the Airflow UI: an Airflow 3 plugin served by the API server.

``GET /courtflow/quota`` (HTML, also the *Browse → CourtListener quota* entry of the UI,
which frames it) and ``GET /courtflow/api/quota`` (JSON) show, for every CourtListener
connection: the budget's sliding windows (used / limit / remaining / when room
appears), a server block, calls and 429s over the last hours, calls by DAG and task,
watermark lag per resource and scope; and the sync tasks waiting for the budget now
and their deferrals per hour.

A plugin's FastAPI app is not protected by Airflow: every endpoint here resolves the
user with the core API's own dependency (``get_user``: the ``Authorization: Bearer``
JWT or the UI's session cookie, validated by the auth manager) and asks the auth
manager which DAGs that user may read: no valid token is 401/403, no readable DAG is
403, and DAG and task figures are limited to the readable DAGs. Figures are read from
the target database of each connection, as the tasks read it; the token and the
database URL are never part of an answer.

Connections shown: ``[courtflow] quota_connections`` (comma-separated, default
``courtlistener_default``) plus every ``courtlistener`` connection in the metadata
database. The module is imported by every Airflow process that loads plugins, so the
web application is built on the API server's first request, not at import.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations,
# which name objects local to create_app.
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.plugins_manager import AirflowPlugin

from courtflow.airflow.hooks import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from courtflow.airflow.quota import QuotaView

log = logging.getLogger("courtflow.airflow.plugin")

URL_PREFIX = "/courtflow"
MAX_HOURS = 168
_TRIGGER = "courtflow.airflow.triggers.BudgetTrigger"
_SYNC_OPERATOR = "CourtListenerSyncOperator"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LazyApp:
    """An ASGI app that builds the real one on its first request (API server only)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._factory()
        await self._app(scope, receive, send)


def create_app() -> Any:
    """The FastAPI application: two read-only endpoints behind Airflow's authentication."""
    from typing import Annotated

    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.responses import HTMLResponse, RedirectResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from courtflow.airflow.quota import DEFAULT_HOURS, render_html

    app = FastAPI(title="courtflow quota", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def login_first(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser that is not logged in is sent to Airflow's login page, and back here
        after it; an API client (no ``Accept: text/html``) keeps the plain 401."""
        if exc.status_code == 401 and wants_page(request.url.path, request.headers):
            from airflow.api_fastapi.app import get_auth_manager

            login = get_auth_manager().get_url_login(next_url=str(request.url))
            return RedirectResponse(login, status_code=303)
        return await http_exception_handler(request, exc)

    def readable_dags(user: Annotated[BaseUser, Depends(get_user)]) -> set[str]:
        """The DAGs the authenticated user may read; none at all is a 403."""
        from airflow.api_fastapi.app import get_auth_manager

        dag_ids = get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
        if not dag_ids:
            raise HTTPException(status_code=403, detail="no DAG may be read by this user")
        return set(dag_ids)

    Hours = Annotated[int, Query(ge=1, le=MAX_HOURS)]
    Dags = Annotated[set[str], Depends(readable_dags)]

    @app.get("/api/quota")
    def quota_json(dag_ids: Dags, hours: Hours = DEFAULT_HOURS) -> dict[str, Any]:
        return collect_view(dag_ids, hours).as_json()

    @app.get("/quota", response_class=HTMLResponse)
    def quota_page(dag_ids: Dags, hours: Hours = DEFAULT_HOURS) -> HTMLResponse:
        return HTMLResponse(render_html(collect_view(dag_ids, hours)))

    return app


def wants_page(path: str, headers: Any) -> bool:
    """The HTML page asked for by a browser (which says it accepts text/html)."""
    return path.rstrip("/").endswith("/quota") and "/api/" not in path and "text/html" in str(
        headers.get("accept", "")
    )


def collect_view(dag_ids: set[str], hours: int) -> "QuotaView":
    """Every connection's figures plus the budget waits Airflow knows of."""
    from courtflow.airflow.quota import QuotaView, budget_figures, with_waiting

    now = datetime.now(UTC)
    budgets = []
    for conn_id in connection_ids():
        settings = _settings(conn_id)
        if settings is None:
            continue
        budgets.append(budget_figures(conn_id, settings, hours=hours, dag_ids=dag_ids))
    since = now - timedelta(hours=hours)
    waiting = waiting_now(dag_ids)
    # A task deferred now has deferred at least once in this try, which its result (read
    # when it ends) does not count yet: the hours and "Waiting now" agree.
    per_hour = with_waiting(deferrals_per_hour(dag_ids, since), waiting, since, now)
    return QuotaView(
        generated_at=now, hours=hours, budgets=tuple(budgets),
        waiting=waiting, deferrals_per_hour=per_hour,
    )  # fmt: skip


def connection_ids() -> list[str]:
    """Configured connection ids first, then the metadata database's courtlistener ones."""
    from airflow.configuration import conf
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    configured = conf.get("courtflow", "quota_connections", fallback=DEFAULT_CONN_ID)
    found = [c.strip() for c in configured.split(",") if c.strip()]
    try:
        with create_session() as session:
            stored = session.scalars(
                select(Connection.conn_id).where(Connection.conn_type == "courtlistener")
            ).all()
    except Exception:  # a view, not a gate: show what the configuration names
        log.exception("could not list courtlistener connections")
        stored = []
    return list(dict.fromkeys([*found, *sorted(stored)]))


def _settings(conn_id: str) -> Any:
    """Settings of ``conn_id`` as the tasks build them; None when it does not exist."""
    from airflow.models.connection import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from courtflow.airflow.hooks import _from_connection
    from courtflow.config import Settings

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        # The tasks fall back to the environment for the default connection only.
        return Settings.from_env() if conn_id == DEFAULT_CONN_ID else None
    return _from_connection(conn)


def waiting_now(dag_ids: set[str]) -> tuple[Any, ...]:
    """Task instances deferred on the budget trigger right now (readable DAGs only)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from courtflow.airflow.quota import Waiting

    stmt = (
        select(TaskInstance.dag_id, TaskInstance.task_id, TaskInstance.run_id,
               Trigger.created_date)
        .join(Trigger, Trigger.id == TaskInstance.trigger_id)
        .where(
            Trigger.classpath == _TRIGGER,
            TaskInstance.state == "deferred",
            TaskInstance.dag_id.in_(sorted(dag_ids)),
        )
        .order_by(Trigger.created_date)
    )
    try:
        with create_session() as session:
            rows = session.execute(stmt).all()
    except Exception:
        log.exception("could not read deferred task instances")
        return ()
    return tuple(Waiting(r[0], r[1], r[2], r[3]) for r in rows)


def deferrals_per_hour(dag_ids: set[str], since: datetime) -> tuple[tuple[datetime, int], ...]:
    """Budget deferrals of sync tasks that ended in each hour (their results count them)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import and_, select

    stmt = (
        select(TaskInstance.end_date, XComModel.value)
        .join(XComModel, and_(
            XComModel.dag_id == TaskInstance.dag_id, XComModel.run_id == TaskInstance.run_id,
            XComModel.task_id == TaskInstance.task_id,
            XComModel.map_index == TaskInstance.map_index,
        ))
        .where(
            XComModel.key == "return_value",
            TaskInstance.operator == _SYNC_OPERATOR,
            TaskInstance.end_date >= since,
            TaskInstance.dag_id.in_(sorted(dag_ids)),
        )
    )
    try:
        with create_session() as session:
            rows = session.execute(stmt).all()
    except Exception:
        log.exception("could not read sync task results")
        return ()
    hours: dict[datetime, int] = defaultdict(int)
    for ended, value in rows:
        result = json.loads(value) if isinstance(value, str) else value
        count = int(result.get("deferrals", 0)) if isinstance(result, dict) else 0
        if ended is not None and count:
            hours[ended.astimezone(UTC).replace(minute=0, second=0, microsecond=0)] += count
    return tuple(sorted(hours.items()))


class CourtflowPlugin(AirflowPlugin):
    """Registered by the ``airflow.plugins`` entry point when courtflow is installed."""

    name = "courtflow"
    fastapi_apps = [
        {"app": LazyApp(create_app), "url_prefix": URL_PREFIX, "name": "CourtListener quota"}
    ]
    external_views = [
        {
            "name": "CourtListener quota",
            "href": f"{URL_PREFIX}/quota",
            "destination": "nav",
            "category": "browse",
            "url_route": "courtlistener-quota",
        }
    ]
