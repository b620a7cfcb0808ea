"""The catalogue's modules depend one way: the filter types (``filters``) import nothing of
the catalogue, the filter sets (data) import the types, the resources both, the scope the
types; no import hides in a function or behind ``TYPE_CHECKING`` to close a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import courtflow.catalogue as catalogue

PACKAGE = Path(catalogue.__file__).resolve().parent
PREFIX = "courtflow.catalogue."


def imports(path: Path) -> tuple[set[str], list[str]]:
    """Catalogue modules imported anywhere in ``path``, and those imported other than at
    the top level of the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found: set[str] = set()
    hidden: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PREFIX):
            name = (node.module or "")[len(PREFIX):]
            found.add(name)
            if id(node) not in top:
                hidden.append(name)
    return found, hidden


def test_the_catalogue_has_no_import_circle() -> None:
    graph = {p.stem: imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert graph["filters"][0] == set()  # the types stand alone
    assert graph["filtersets"][0] == {"filters"}
    assert graph["resources"][0] == {"filters", "filtersets"}
    assert all(not hidden for _, hidden in graph.values()), graph

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in graph[start][0])  # fmt: skip

    assert not [m for m in graph if reaches(m, m)]

