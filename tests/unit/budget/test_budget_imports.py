"""The budget's modules depend one way: the rule (pure), its SQL, then orchestration.

The import graph is read from the source with ``ast``, every import counted wherever it
sits (module level, inside a function, under ``TYPE_CHECKING``): a function-level
import that reaches back is a circle all the same, only hidden. ``courtflow.config``
is included, as it imports the budget's names and the budget imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"
BUDGET = "courtflow.budget"
# The rule: no SQL, no I/O, no clock. They import only each other and courtflow.errors.
PURE = {f"{BUDGET}.{m}" for m in ("rates", "waits", "priorities", "external", "model")}
# What runs the budget: nothing below imports it.
ORCHESTRATION = {f"{BUDGET}.budget", f"{BUDGET}.usage_sync"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in (SRC / "courtflow" / "budget").glob("*.py")}
    found["courtflow.config"] = SRC / "courtflow" / "config.py"
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every courtflow module (or third-party top name) ``path`` imports, anywhere."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            out.update(subs or {node.module})
    return out


def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: imports_of(path, known) - {name} for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle among ``edges``' keys (as a path back to its start), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done or node not in edges:
            return None
        for nxt in sorted(edges[node]):
            cycle = visit(nxt, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_find_cycle_finds_a_circle_and_accepts_a_chain() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_budget_package_has_no_import_circle() -> None:
    edges = graph()
    assert len(edges) > 10  # the walk found the package
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


@pytest.mark.parametrize("module", sorted(PURE))
def test_the_rule_imports_no_sql_and_no_other_layer(module: str) -> None:
    used = graph()[module]
    courtflow = {m for m in used if m.startswith("courtflow")}
    assert courtflow <= PURE | {"courtflow.errors"}, courtflow - PURE
    assert not {m for m in used if m.split(".")[0] == "sqlalchemy"}


def test_nothing_below_the_orchestration_imports_it() -> None:
    edges = graph()
    below = {m for m in edges if m.startswith(BUDGET) and m not in ORCHESTRATION}
    offenders = {m: edges[m] & ORCHESTRATION for m in below if edges[m] & ORCHESTRATION}
    assert offenders == {}


def test_public_names_stay_where_the_readme_shows_them() -> None:
    from courtflow.budget import external, usage_sync
    from courtflow.budget.classes import BACKFILL, RANKS, class_stats, parse_priority

    assert callable(class_stats) and callable(parse_priority)
    assert RANKS[BACKFILL] == 1
    assert callable(external.place) and callable(usage_sync.sync_usage)
    assert callable(usage_sync.not_usage_key) and usage_sync.usage_key("k") == "k:api_usage"
