"""For every endpoint of the catalogue, an unknown filter or lookup is refused locally,
with a message naming it and what is valid, before any call is spent."""

from __future__ import annotations

from typing import Any

import pytest

from courtflow import cli
from courtflow.airflow.dag_config import ResourceConfig
from courtflow.catalogue.resources import RESOURCES
from courtflow.catalogue.scope import Scope
from courtflow.errors import ConfigError
from courtflow.run import sync as sync_module
from courtflow.store import engine as store_engine

NAMES = list(RESOURCES)
FILTERED = [n for n in NAMES if RESOURCES[n].filters]


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_filter_names_itself_and_the_valid_ones(name: str) -> None:
    spec = RESOURCES[name]
    with pytest.raises(ConfigError) as err:
        Scope.of(spec, {"no_such_filter": "1"})
    message = str(err.value)
    assert f"unknown filter 'no_such_filter' on {name}; valid filters: " in message
    listed = message.split("valid filters: ", 1)[1]
    if spec.filters:
        tops = {f.name.split("__", 1)[0] for f in spec.filters}
        assert all(t in listed for t in tops), listed
    else:
        assert listed == "none"  # the server ignores filters there: none are offered


@pytest.mark.parametrize("name", FILTERED)
def test_an_unsupported_lookup_names_it_and_the_fields_lookups(name: str) -> None:
    spec = RESOURCES[name]
    field = next(f for f in spec.filters if "icontains" not in f.lookups)
    with pytest.raises(ConfigError) as err:
        Scope.of(spec, {f"{field.name}__icontains": "x"})
    message = str(err.value)
    assert "'icontains'" in message and f"valid lookups: {', '.join(field.lookups)}" in message


RELATED = [n for n in FILTERED if any("__" in f.name for f in RESOURCES[n].filters)]


@pytest.mark.parametrize("name", RELATED)
def test_a_typo_in_a_related_filter_lists_the_names_at_that_level(name: str) -> None:
    spec = RESOURCES[name]
    related = next(f.name for f in spec.filters if "__" in f.name)
    head = related.rsplit("__", 1)[0]
    with pytest.raises(ConfigError) as err:
        Scope.of(spec, {f"{head}__no_such_field": "1"})
    message = str(err.value)
    assert f"'{head}__no_such_field'" in message
    listed = message.rsplit(": ", 1)[1]  # the valid filters beside the typo
    assert listed and all(n.startswith(head + "__") for n in listed.split(", ")), message


@pytest.mark.parametrize("command", ["sync", "backfill", "plan"])
@pytest.mark.parametrize("name", NAMES)
def test_the_cli_refuses_before_opening_anything(
    name: str, command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[Any] = []
    # The CLI imports what it opens inside its commands (a fast --help): catch it there.
    monkeypatch.setattr(sync_module, "open_pipeline", lambda *a, **k: opened.append(a))
    monkeypatch.setattr(store_engine, "make_engine", lambda *a, **k: opened.append(a))
    monkeypatch.setenv("COURTLISTENER_API_BASE_URL", "http://127.0.0.1:9/api/rest/v4/")
    argv = [command, "--resource", name, "--filter", "no_such_filter=1",
            "--since", "2024-01-01", "--until", "2024-01-02"]  # fmt: skip
    assert cli.main(argv) == 2  # a configuration error: fatal, nothing to retry
    assert opened == []  # no engine, no budget, no client: no call
    assert "unknown filter 'no_such_filter'" in capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_a_dag_config_with_a_bad_filter_fails_at_import(name: str) -> None:
    with pytest.raises(ConfigError, match="no_such_filter"):
        ResourceConfig.from_value({"name": name, "filters": {"no_such_filter": "1"}})


def test_a_dag_config_list_is_several_values_where_production_takes_several() -> None:
    config = ResourceConfig.from_value(
        {"name": "opinions", "filters": {"type": ["020lead", "010combined"]}})
    assert config.filters == (("type", "010combined"), ("type", "020lead"))
    with pytest.raises(ConfigError, match="'court' on dockets takes one value, got 2"):
        ResourceConfig.from_value({"name": "dockets", "filters": {"court": ["ca9", "scotus"]}})
    with pytest.raises(ConfigError, match="'ZZ' is not one of the valid values: AL, AK"):
        ResourceConfig.from_value({"name": "people", "filters": {"dob_state": "ZZ"}})
