"""MkDocs hooks: pages that quote the code's own text, so it is stated once.

``<!-- docstring: module.path -->`` in a page is replaced by that module's docstring (the
budget's reference model is its specification; the page shows it, never a copy).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

_MARKER = re.compile(r"<!-- docstring: ([\w.]+) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    def docstring(match: re.Match[str]) -> str:
        module = importlib.import_module(match.group(1))
        doc = module.__doc__
        if not doc:
            raise ValueError(f"{match.group(1)} has no docstring to show")
        return doc.strip()

    return _MARKER.sub(docstring, markdown)
