"""The header of a file against its export's columns: what is wrong, said plainly."""

from __future__ import annotations

from courtflow.bootstrap.exports import EXPORTS, Export
from courtflow.errors import BulkFileError


def check_header(export: Export, names: list[str], label: str) -> list[str]:
    """The file's column names (in file order) if they are the export's; else an error
    naming the file, line 1 and the difference (another export, missing, renamed)."""
    expected = export.column_names
    if list(names) == list(expected):
        return names
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise BulkFileError(label, 1, f"columns named twice: {', '.join(twice)}")
    if set(names) == set(expected):
        return names  # same columns in another order: COPY takes the file's order
    for other in EXPORTS.values():
        if other.name != export.name and set(other.column_names) == set(names):
            raise BulkFileError(
                label, 1,
                f"this is the {other.name!r} export ({other.resource}), not the "
                f"{export.name!r} export ({export.resource})",
            )  # fmt: skip
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected]
    parts = []
    if missing:
        parts.append(f"missing columns: {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected columns: {', '.join(extra)}")
    hint = " (renamed?)" if missing and extra else ""
    overlap = len(set(names) & set(expected))
    if overlap < len(expected) // 2:
        hint = f" (this does not look like the {export.name!r} export at all)"
    raise BulkFileError(
        label, 1, f"header does not match the {export.name!r} export: {'; '.join(parts)}{hint}"
    )
