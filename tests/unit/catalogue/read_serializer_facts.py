"""Read, from a checkout of the CourtListener server, which list endpoints send ``id``.

Writes ``serializer_facts.json`` beside this file, the facts the identity contract test
(``test_identity_contract.py``) checks the catalogue against. Not a test: run it by hand
against a checkout (``git -C courtlistener rev-parse HEAD`` is recorded)::

    python tests/unit/catalogue/read_serializer_facts.py /path/to/courtlistener [COMMIT]

(COMMIT names the snapshot when the path is an exported tree, not a git checkout.)

For each viewset the catalogue names (``ResourceSpec.viewset``), the views module's
``serializer_class`` is resolved through its imports to the serializer class, and that
class (and its bases in the same module) decides: a ``HyperlinkedModelSerializerWithId``
or plain ``ModelSerializer`` base, an ``id`` field, or ``"id"`` in ``Meta.fields`` sends
``id``; a plain ``HyperlinkedModelSerializer`` with ``fields = "__all__"`` does not (DRF
replaces the primary key by the URL field, ``resource_uri`` on this server).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from courtflow.catalogue.resources import RESOURCES

VIEW_MODULES = ("cl/search/api_views.py", "cl/audio/api_views.py", "cl/people_db/api_views.py",
                "cl/disclosures/api_views.py", "cl/recap/views.py")  # fmt: skip
WITH_ID_BASES = {"HyperlinkedModelSerializerWithId", "ModelSerializer"}


def _module_path(root: Path, module: str) -> Path:
    return root / (module.replace(".", "/") + ".py")


def _viewsets(root: Path, rel: str) -> dict[str, tuple[str, Path]]:
    """viewset class -> (serializer class name, file that defines it)."""
    tree = ast.parse((root / rel).read_text())
    origin: dict[str, Path] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cl."):
            for alias in node.names:
                origin[alias.asname or alias.name] = _module_path(root, node.module)
    out: dict[str, tuple[str, Path]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name)
                    and any(isinstance(t, ast.Name) and t.id == "serializer_class"
                            for t in stmt.targets)):  # fmt: skip
                name = stmt.value.id
                out[node.name] = (name, origin.get(name, root / rel))
    return out


def _base_names(cls: ast.ClassDef) -> list[str]:
    names = []
    for b in cls.bases:
        if isinstance(b, ast.Name):
            names.append(b.id)
        elif isinstance(b, ast.Attribute):
            names.append(b.attr)
    return names


def _meta_value(cls: ast.ClassDef, key: str) -> object:
    for stmt in cls.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Meta":
            for s in stmt.body:
                if isinstance(s, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == key for t in s.targets
                ):
                    return ast.literal_eval(s.value)
    return None


def sends_id(path: Path, name: str) -> tuple[bool, list[str]]:
    """Whether serializer ``name`` of ``path`` sends ``id``, and its base classes."""
    classes = {c.name: c for c in ast.parse(path.read_text()).body if isinstance(c, ast.ClassDef)}
    cls = classes[name]
    bases = _base_names(cls)
    fields = _meta_value(cls, "fields")
    exclude = _meta_value(cls, "exclude") or ()
    if isinstance(fields, (list, tuple)):
        return "id" in fields, bases
    declared = any(isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "id"
                                                     for t in s.targets) for s in cls.body)
    if declared:
        return True, bases
    for base in bases:
        if base in classes:  # a serializer of the same module (FullDocketSerializer)
            return sends_id(path, base)
    if "id" in exclude:
        return False, bases
    return bool(WITH_ID_BASES & set(bases)), bases


def main(root: Path) -> None:
    views: dict[str, tuple[str, Path]] = {}
    for rel in VIEW_MODULES:
        views.update({f"{rel}:{k}": v for k, v in _viewsets(root, rel).items()})
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()  # fmt: skip
    commit = commit or (sys.argv[2] if len(sys.argv) > 2 else "")
    facts: dict[str, object] = {}
    for spec in RESOURCES.values():
        # The disclosures PositionViewSet and the people_db one share a name.
        module = "cl/disclosures/api_views.py" if spec.name == "disclosure-positions" else None
        hits = [(k, v) for k, v in views.items() if k.split(":")[1] == spec.viewset
                and (module is None or k.startswith(module))
                and not (spec.name == "positions" and k.startswith("cl/disclosures"))]
        if len(hits) != 1:
            raise SystemExit(f"{spec.name}: viewset {spec.viewset} found {len(hits)} times")
        view, (serializer, path) = hits[0]
        has_id, bases = sends_id(path, serializer)
        facts[spec.name] = {
            "viewset": view, "serializer": f"{path.relative_to(root)}:{serializer}",
            "bases": bases, "sends_id": has_id,
        }
    out = Path(__file__).with_name("serializer_facts.json")
    out.write_text(json.dumps({"source": "freelawproject/courtlistener", "commit": commit,
                               "endpoints": facts}, indent=1, sort_keys=True) + "\n")
    print(f"{len(facts)} endpoints -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
