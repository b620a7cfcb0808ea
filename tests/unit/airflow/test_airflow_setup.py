"""``python -m courtflow.airflow.setup``: reading the pool from ``airflow pools`` output
(the command itself runs against real Airflow in the scheduler end-to-end test)."""

from __future__ import annotations

import pytest

from courtflow.airflow.setup import PoolState, SetupError, _parse, main, set_pool


def test_pool_is_read_from_the_json_line_of_the_cli_output() -> None:
    out = ('2026-01-01 [info] some log line\n'
           '[{"pool": "courtlistener_api_pool", "slots": "4", "description": "d", '
           '"include_deferred": "False", "team_name": null}]\n')  # fmt: skip
    assert _parse(out) == PoolState("courtlistener_api_pool", 4, False, "d")
    assert _parse("no pool here\n") is None


def test_a_pool_without_slots_is_refused_before_calling_airflow() -> None:
    with pytest.raises(SetupError, match="at least one slot"):
        set_pool("p", 0)
    assert main(["--pool-slots", "0"]) == 2
