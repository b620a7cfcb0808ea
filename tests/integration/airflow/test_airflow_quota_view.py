"""The quota view in the Airflow UI: a real ``airflow api-server`` with the courtflow
plugin, after a real run that spent and waited for the budget.

Unauthenticated (and forged) requests to the plugin's endpoints are refused; a user
logged in through Airflow's own login page in headless Chromium sees, inside the
Airflow UI, every window of the budget with its figures, the calls by DAG and task and
the watermark lag; the token appears nowhere. A connection made with ``airflow
connections add`` and completed by ``courtflow.airflow.setup`` shows every extra field
in Airflow's connection form.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from airflow_support import (
    AIRFLOW,
    Services,
    airflow_env,
    free_port,
    new_airflow_home,
    run,
    write_dag,
)
from browser_support import Page, chromium_page, find_chromium
from sqlalchemy import create_engine, text

from bounds import bound
from courtflow.airflow.provider import CONN_FIELDS
from courtflow.sandbox.config import SandboxConfig
from courtflow.sandbox.server import start_sandbox

SECRET_TOKEN = "9a7e19a7e19a7e19a7e19a7e19a7e19a7e19a7e1"
RATES = ("2/2s", "40/min", "500/hour")
DAY = {"since": "2024-01-02T00:00:00Z", "until": "2024-01-03T00:00:00Z"}
PASSWORD = "quota-view-pw"


def http(url: str, *, headers: dict[str, str] | None = None,
         body: dict[str, str] | None = None) -> tuple[int, str]:  # fmt: skip
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={
        **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_healthy(base: str, services: Services, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + bound(timeout)
    while time.monotonic() < deadline:
        services.check_alive()
        try:
            if http(f"{base}/api/v2/monitor/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError("api-server not healthy:\n" + services.tail("api-server"))


@pytest.mark.slow  # a DAG run, an API server and Chromium: about 2 min; make test-slow
@pytest.mark.timeout(600)
def test_quota_view_needs_airflow_login_and_shows_every_window(
    airflow_template: Path, tmp_path: Path
) -> None:
    chromium = find_chromium()
    home = new_airflow_home(airflow_template, tmp_path / "home")
    dags = tmp_path / "dags"
    dags.mkdir()
    write_dag(dags, {"dag_id": "cf_quota", "resources": ["dockets"], "max_sleep": "0s",
                     "min_deferral": 0, "trigger_poll_interval": "2s", "retries": 0})  # fmt: skip
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    services = Services(tmp_path)
    config = SandboxConfig(tokens=(SECRET_TOKEN,), volumes={"dockets": 6000})
    with start_sandbox(config) as sandbox:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = airflow_env(home, dags, extra={
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API_AUTH__JWT_SECRET": "courtflow-quota-" + tmp_path.name,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        })  # fmt: skip
        # The connection, made from the CLI with two extras and completed by the set-up.
        added = run([AIRFLOW, "connections", "add", "courtlistener_default", "--conn-type",
                     "courtlistener", "--conn-host", sandbox.url, "--conn-password",
                     SECRET_TOKEN, "--conn-extra",
                     json.dumps({"database_url": target, "rates": ",".join(RATES)})], env)
        assert added.returncode == 0, added.stderr[-2000:]
        completed = run([sys.executable, "-m", "courtflow.airflow.setup"], env)
        assert completed.returncode == 0, completed.stderr[-2000:]
        assert "connection courtlistener_default: added empty fields headroom" in (
            completed.stdout)
        # 1. A run that spends the budget and waits for it (max_sleep 0: deferrals).
        done = run([AIRFLOW, "dags", "test", "cf_quota", DAY["until"], "-c", json.dumps(DAY)],
                   env, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        try:
            services.start("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1",
                                          "--port", str(port), "--workers", "1"], env)
            wait_healthy(base, services)
            # 2. Refused without Airflow's authentication, or with a forged token.
            for path in ("/courtflow/api/quota", "/courtflow/quota"):
                assert http(base + path)[0] == 401
                forged = {"Authorization": "Bearer not.a.jwt"}
                assert http(base + path, headers=forged)[0] in (401, 403)
            # 3. With a token from Airflow's own login, the JSON figures.
            status, body = http(f"{base}/auth/token",
                                body={"username": "admin", "password": PASSWORD})  # fmt: skip
            assert status == 201, body
            jwt = json.loads(body)["access_token"]
            status, body = http(f"{base}/courtflow/api/quota",
                                headers={"Authorization": f"Bearer {jwt}"})  # fmt: skip
            assert status == 200, body
            assert SECRET_TOKEN not in body
            view = json.loads(body)
            # 4. Logged in like a person, in Airflow's UI, the view as it is framed there.
            shot_ui, framed, page_rows, form = browse(chromium, base, tmp_path)
        finally:
            services.stop()
    ((budget,),) = [view["budgets"]]
    assert budget["conn_id"] == "courtlistener_default" and budget["error"] is None
    assert [w["rate"] for w in budget["windows"]] == list(RATES)
    engine = create_engine(target)
    with engine.connect() as conn:
        # The main budget's calls (api-usage/ keeps a budget of its own: "<key>:api_usage").
        calls = conn.execute(text("SELECT count(*) FROM api_call_ledger"
                                  " WHERE budget_key NOT LIKE '%\\:api_usage'")).scalar_one()
        by_task = conn.execute(text(
            "SELECT task_id, count(*) FROM api_call_ledger"
            " WHERE budget_key NOT LIKE '%\\:api_usage' GROUP BY 1")).all()
    engine.dispose()
    # The hour window counts every call of the run (no call was made since).
    hour = next(w for w in budget["windows"] if w["rate"] == "500/hour")
    assert (hour["used"], hour["limit"], hour["remaining"]) == (calls, 500, 500 - calls)
    assert [(t["dag_id"], t["task_id"], t["calls"]) for t in budget["by_task"]] == [
        ("cf_quota", task, n) for task, n in by_task]
    assert [lag["resource"] for lag in budget["lags"]] == ["dockets"]
    assert sum(n for _, n in view["deferrals_per_hour"]) >= 1  # the run waited
    # What the browser showed: every window's row with consistent figures.
    assert SECRET_TOKEN not in framed
    shown = {row[0]: row for row in page_rows}
    for rate in RATES:
        limit = int(rate.split("/")[0])
        assert rate in shown, page_rows
        used, shown_limit, remaining = (int(v) for v in shown[rate][1:4])
        assert shown_limit == limit and used + remaining == limit, shown[rate]
    assert shown["500/hour"][1:4] == [str(calls), "500", str(500 - calls)]
    assert "cf_quota" in framed and "dockets.sync" in framed and "Watermark lag" in framed
    png = shot_ui.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    # The connection form, edited in the browser: every extra field, not only the two set.
    for field in CONN_FIELDS.values():
        assert field["label"] in form, form
    assert SECRET_TOKEN not in form


def browse(chromium: str, base: str, tmp: Path) -> tuple[Path, str, list[list[str]], str]:
    """Log in on Airflow's login page, open the nav entry's page and screenshot it.

    Returns the screenshot, the framed view's text, its windows table rows and the text
    of the connection's edit form with its extra fields open."""
    with chromium_page(chromium, tmp / "chromium-profile", free_port()) as page:
        # The view's own address, logged out: Airflow's login page, not a JSON 401.
        page.goto(f"{base}/courtflow/quota")
        page.wait_for("location.pathname.startsWith('/auth/login')")
        assert "Not authenticated" not in str(page.evaluate("document.body.innerText"))
        page.goto(f"{base}/plugin/courtlistener-quota")
        # Airflow sends an unauthenticated visitor to its login page.
        page.wait_for("location.pathname.startsWith('/auth/login')")
        page.type_into("input:not([type=password])", "admin")
        page.type_into("input[type=password]", PASSWORD)
        page.press_enter()
        page.wait_for("location.pathname.startsWith('/plugin/courtlistener-quota')")
        frame = "document.querySelector('iframe[src*=\"/courtflow/quota\"]')"
        page.wait_for(f"{frame} && {frame}.contentDocument && "
                      f"{frame}.contentDocument.querySelector('table')")  # fmt: skip
        shot = page.screenshot(tmp / "quota-view.png")
        framed = str(page.evaluate(f"{frame}.contentDocument.body.innerText"))
        rows = page.evaluate(
            f"Array.from({frame}.contentDocument.querySelector('table').rows).slice(1)"
            ".map(r => Array.from(r.cells).map(c => c.innerText.trim()))"
        )
        # Logged in, the view's own address shows the page itself.
        page.goto(f"{base}/courtflow/quota")
        page.wait_for("document.querySelector('table') !== null")
        assert page.evaluate("location.pathname") == "/courtflow/quota"
        form = edit_form(page, base)
    assert re.search(r"CourtListener quota", framed), framed[:2000]
    return shot, framed, rows, form


def edit_form(page: Page, base: str) -> str:
    """The text of the only listed connection's edit form, its "Extra Fields" open."""
    page.goto(f"{base}/connections")
    page.wait_for("document.body.innerText.includes('courtlistener_default')")
    page.click("document.querySelector('button[aria-label=\"Edit Connection\"]')")
    dialog = "document.querySelector('[role=dialog]')"
    extra = (f"Array.from({dialog}.querySelectorAll('button'))"
             ".find(b => b.innerText.trim() === 'Extra Fields')")  # fmt: skip
    page.click(extra)
    page.wait_for(f"{dialog}.innerText.includes('Target database URL')")
    return str(page.evaluate(f"{dialog}.innerText"))
