"""Edits, inserts and deletions between runs: the sandbox changes as the real server does.

``POST /__sandbox__/mutate`` with a JSON body (a valid API token required; free of the
quota, as it is no API call):

    {"resource": "dockets", "edit": 5, "insert": 2, "delete": [1003, 1004], "seed": 7}

``edit`` and ``delete`` take a list of ids or a number of live records picked at random
(``seed`` makes the pick reproducible); ``insert`` a number of new records. Edits and
inserts are modified now. The answer lists the ids: ``{"edited": [...], "inserted":
[...], "deleted": [...]}``. A deleted record leaves listings, counts, its detail URL (404)
and the bulk export (courtflow.sandbox.bulk), as a hard delete on the server does.

``GET /__sandbox__/records/<resource>`` returns every live record as the API serves it
(``{"records": [...]}``): the truth a test or the soak compares a mirror with.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from courtflow.sandbox.bulk import sandbox_records
from courtflow.sandbox.index import Dataset

ADMIN_PREFIX = "/__sandbox__/"


class MutationError(ValueError):
    """A mutation request the sandbox cannot carry out (answered 400 with the reason)."""


def _pick(data: Dataset, resource: str, value: Any, rng: random.Random,
          what: str) -> list[int]:  # fmt: skip
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        raise MutationError(f"{what!r} must be a number of records or a list of ids")
    if isinstance(value, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise MutationError(f"{what!r}: ids must be integers")
        return list(value)
    if value < 0:
        raise MutationError(f"{what!r} must not be negative")
    table = data.table(resource)
    with data.lock:
        live = table.live_slots()
        chosen = rng.sample(live, min(value, len(live)))
        return [table.ids[s] for s in chosen]


def mutate(data: Dataset, body: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one mutation request (see the module docstring); returns the ids touched."""
    resource = body.get("resource")
    if not isinstance(resource, str) or resource not in data.tables:
        raise MutationError(f"'resource' must be one of {sorted(data.tables)}, got {resource!r}")
    unknown = set(body) - {"resource", "edit", "insert", "delete", "seed"}
    if unknown:
        raise MutationError(f"unknown keys {sorted(unknown)}")
    seed = body.get("seed")
    rng = random.Random(seed if isinstance(seed, int) else None)
    inserts = body.get("insert", 0)
    if isinstance(inserts, bool) or not isinstance(inserts, int) or inserts < 0:
        raise MutationError("'insert' must be a number of records >= 0")
    deleted = data.delete(resource, _pick(data, resource, body.get("delete"), rng, "delete"))
    edit = [k for k in _pick(data, resource, body.get("edit"), rng, "edit") if k not in deleted]
    data.touch(resource, edit)
    inserted = data.insert(resource, inserts)
    return {"resource": resource, "edited": edit, "inserted": inserted, "deleted": deleted}


def records(data: Dataset, resource: str, base: str) -> dict[str, Any]:
    """Every live record of ``resource`` as the API serves it."""
    if resource != "courts" and resource not in data.tables:
        raise MutationError(f"unknown resource {resource!r}")
    return {"records": list(sandbox_records(data, resource, base))}
