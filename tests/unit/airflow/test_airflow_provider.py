"""get_provider_info: valid against Airflow's own schema, every listed class imports."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import airflow
import jsonschema

from courtflow.airflow.hooks import EXTRA_SETTINGS, CourtListenerHook
from courtflow.airflow.provider import get_provider_info

AIRFLOW_DIR = Path(airflow.__file__).parent


def test_provider_info_is_valid_against_airflows_schema() -> None:
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_and_class_imports() -> None:
    info = get_provider_info()
    for kind in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[kind]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for path in [*info["notifications"],
                 *(c["hook-class-name"] for c in info["connection-types"])]:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), path


def test_connection_type_matches_the_hook_and_its_ui_fields() -> None:
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == CourtListenerHook.conn_type == "courtlistener"
    behaviour = conn["ui-field-behaviour"]
    form_schema = json.loads(
        (AIRFLOW_DIR / "customized_form_field_behaviours.schema.json").read_text())
    jsonschema.validate({"hidden_fields": behaviour["hidden-fields"],
                         "relabeling": behaviour["relabeling"],
                         "placeholders": behaviour["placeholders"]}, form_schema)
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API token"}
    # Every extra field the form offers is one the hook reads, and the reverse.
    assert set(conn["conn-fields"]) == set(EXTRA_SETTINGS)
    assert conn["conn-fields"]["database_url"]["schema"]["format"] == "password"
