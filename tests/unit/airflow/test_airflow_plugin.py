"""The quota plugin's endpoints: Airflow's own authentication first, then the auth
manager's DAG permissions, which also limit what is shown."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from courtflow.airflow import plugin
from courtflow.airflow.quota import QuotaView


class AuthManager:
    def __init__(self, dag_ids: set[str]) -> None:
        self.dag_ids = dag_ids

    def get_authorized_dag_ids(self, *, user: Any, method: str = "GET") -> set[str]:
        assert method == "GET" and user.name == "ann"
        return self.dag_ids


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    seen: list[tuple[set[str], int]] = []

    def collect(dag_ids: set[str], hours: int) -> QuotaView:
        seen.append((dag_ids, hours))
        return QuotaView(generated_at=datetime(2024, 1, 1, tzinfo=UTC), hours=hours, budgets=())

    monkeypatch.setattr(plugin, "collect_view", collect)
    app = plugin.create_app()
    client = TestClient(app)
    client.seen = seen
    client.authenticate = lambda: app.dependency_overrides.__setitem__(
        get_user, lambda: SimpleNamespace(name="ann"))
    return client


def test_no_credentials_is_401(client: Any) -> None:
    # (A forged token is refused by the auth manager: see the api-server test.)
    assert client.get("/api/quota").status_code == 401
    assert client.get("/quota").status_code == 401
    assert client.seen == []


def test_a_user_who_may_read_no_dag_is_403(client: Any, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:  # fmt: skip
    import airflow.api_fastapi.app as api_app

    monkeypatch.setattr(api_app, "get_auth_manager", lambda: AuthManager(set()))
    client.authenticate()
    assert client.get("/api/quota").status_code == 403
    assert client.seen == []


def test_figures_are_limited_to_the_dags_the_user_may_read(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow.api_fastapi.app as api_app

    monkeypatch.setattr(api_app, "get_auth_manager", lambda: AuthManager({"cl", "cl_b"}))
    client.authenticate()
    answer = client.get("/api/quota", params={"hours": 3})
    assert answer.status_code == 200 and answer.json()["hours"] == 3
    page = client.get("/quota")
    assert page.status_code == 200 and "CourtListener quota" in page.text
    assert client.seen == [({"cl", "cl_b"}, 3), ({"cl", "cl_b"}, 6)]
    assert client.get("/api/quota", params={"hours": 0}).status_code == 422


def test_the_plugin_declares_its_app_and_a_nav_entry() -> None:
    (app,) = plugin.CourtflowPlugin.fastapi_apps
    assert app["url_prefix"] == "/courtflow" and isinstance(app["app"], plugin.LazyApp)
    (view,) = plugin.CourtflowPlugin.external_views
    assert (view["href"], view["destination"]) == ("/courtflow/quota", "nav")


class LoginManager:
    def get_url_login(self, **kwargs: Any) -> str:
        from urllib.parse import urlencode

        return f"/auth/login?{urlencode({'next': kwargs['next_url']})}"


def test_a_browser_that_is_not_logged_in_is_sent_to_the_login_page(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airflow.api_fastapi.app as api_app

    monkeypatch.setattr(api_app, "get_auth_manager", lambda: LoginManager())
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = client.get("/quota", headers=browser, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login?next=")
    assert "quota" in page.headers["location"]
    # The JSON endpoint, and a client that does not ask for a page, keep the 401.
    assert client.get("/api/quota", headers=browser, follow_redirects=False).status_code == 401
    assert client.get("/quota", follow_redirects=False).status_code == 401
    assert client.seen == []


def test_deferrals_per_hour_count_the_tasks_waiting_now() -> None:
    from courtflow.airflow.quota import Waiting, with_waiting

    now = datetime(2024, 1, 1, 12, 40, tzinfo=UTC)
    since = datetime(2024, 1, 1, 6, tzinfo=UTC)
    ended = ((datetime(2024, 1, 1, 11, tzinfo=UTC), 2),)
    waiting = (
        Waiting("cl", "dockets.sync", "r1", datetime(2024, 1, 1, 11, 30, tzinfo=UTC)),
        Waiting("cl", "people.sync", "r1", datetime(2024, 1, 1, 12, 5, tzinfo=UTC)),
        Waiting("cl", "courts.sync", "r0", None),  # unknown: counted now
    )
    hours = with_waiting(ended, waiting, since, now)
    assert hours == ((datetime(2024, 1, 1, 11, tzinfo=UTC), 3),
                     (datetime(2024, 1, 1, 12, tzinfo=UTC), 2))  # fmt: skip
    # Nothing waiting, nothing added; every waiting task is in some hour.
    assert with_waiting(ended, (), since, now) == ended
    assert sum(n for _, n in hours) == sum(n for _, n in ended) + len(waiting)
