"""The provider as Airflow's own CLI sees it: the ``courtlistener`` connection type with its
hook, form fields (token masked, base URL as host, settings as extras), operators,
sensors, triggers and notifier; and a connection added with ``airflow connections add``
feeding the hook. One subprocess runs the commands through Airflow's CLI parser."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from airflow_support import airflow_env, new_airflow_home

from bounds import bound

TOKEN = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"

SCRIPT = textwrap.dedent(f"""
    import contextlib, io, json
    from airflow.cli import cli_parser
    parser = cli_parser.get_parser()
    out = {{}}
    commands = {{
        "hooks": ["providers", "hooks", "-o", "json"],
        "widgets": ["providers", "widgets", "-o", "json"],
        "behaviours": ["providers", "behaviours", "-o", "json"],
        "provider": ["providers", "get", "courtflow", "--full", "-o", "json"],
        "triggers": ["providers", "triggers", "-o", "json"],
        "notifications": ["providers", "notifications", "-o", "json"],
        "add": ["connections", "add", "cl_cli", "--conn-type", "courtlistener",
                "--conn-host", "http://127.0.0.1:9/api/rest/v4", "--conn-password", "{TOKEN}",
                "--conn-extra", '{{"rates": "10/5s", "max_sleep": 2}}'],
        "get": ["connections", "get", "cl_cli", "-o", "json"],
    }}
    for key, argv in commands.items():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            args = parser.parse_args(argv)
            args.func(args)
        out[key] = buf.getvalue()
    from airflow.providers_manager import ProvidersManager
    pm = ProvidersManager()
    out["behaviour"] = pm.field_behaviours.get("courtlistener")
    out["sensitive"] = sorted(k for k, w in pm.connection_form_widgets.items()
                              if k.startswith("extra__courtlistener__") and w.is_sensitive)
    from courtflow.airflow.hooks import CourtListenerHook
    settings = CourtListenerHook("cl_cli").get_settings()
    out["settings"] = [settings.base_url, settings.token.reveal() == "{TOKEN}",
                       [r.text for r in settings.rates], settings.max_sleep]
    print("RESULT=" + json.dumps(out))
""")


def test_airflow_cli_knows_the_courtlistener_connection_type_and_its_form(
    airflow_template: Path, tmp_path: Path
) -> None:
    home = new_airflow_home(airflow_template, tmp_path / "home")
    done = subprocess.run([sys.executable, "-c", SCRIPT],
                          env=airflow_env(home, tmp_path), capture_output=True, text=True,
                          timeout=bound(180))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT=", 1)[1])

    hooks = {h["connection_type"]: h for h in json.loads(out["hooks"])}
    assert hooks["courtlistener"]["class"] == "courtflow.airflow.hooks.CourtListenerHook"
    assert hooks["courtlistener"]["conn_id_attribute_name"] == "courtlistener_conn_id"
    assert {"field_behaviours": "courtlistener"} in json.loads(out["behaviours"])
    behaviour = out["behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API token"}
    assert set(behaviour["hidden_fields"]) == {"schema", "login", "port"}
    assert behaviour["placeholders"]["extra__courtlistener__rates"] == "5000/hour"
    widgets = {w["connection_parameter_name"] for w in json.loads(out["widgets"])}
    assert {f"extra__courtlistener__{k}" for k in ("rates", "headroom", "safety_margin",
                                                   "max_sleep", "max_attempts",
                                                   "database_url")} <= widgets  # fmt: skip
    assert out["sensitive"] == ["extra__courtlistener__database_url"]

    provider = json.loads(out["provider"])[0]
    assert provider["package-name"] == "courtflow"
    assert provider["sensors"][0]["python-modules"] == ["courtflow.airflow.sensors"]
    assert {"notification_class_name": "courtflow.airflow.notifications.WebhookNotifier"} in (
        json.loads(out["notifications"]))
    assert any(t["class"] == "courtflow.airflow.triggers" for t in json.loads(out["triggers"]))

    (conn,) = json.loads(out["get"])
    assert conn["conn_type"] == "courtlistener"
    assert out["settings"] == ["http://127.0.0.1:9/api/rest/v4", True, ["10/5s"], 2.0]
