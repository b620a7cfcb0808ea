"""MkDocs hooks: pages that quote the code's own text, so it is stated once.

``<!-- docstring: module.path -->`` in a page is replaced by that module's docstring (the
budget's reference model is its specification; the page shows it, never a copy).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

_MARKER = re.compile(r"<!-- docstring: ([\w.]+) -->")
_ROLE = re.compile(r":(?:func|class|mod|meth|data):`~?([^`]+)`")


def _markdown(doc: str) -> str:
    """A docstring as Markdown: Sphinx roles become code, a doctest a code block."""
    out: list[str] = []
    in_doctest = False
    for line in _ROLE.sub(r"``\1``", doc).splitlines():
        if line.startswith(">>>") and not in_doctest:
            out.append("```pycon")
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    def docstring(match: re.Match[str]) -> str:
        module = importlib.import_module(match.group(1))
        doc = module.__doc__
        if not doc:
            raise ValueError(f"{match.group(1)} has no docstring to show")
        return _markdown(doc.strip())

    return _MARKER.sub(docstring, markdown)
