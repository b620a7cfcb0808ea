"""Observability unit fixtures."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from courtflow.observe.logs import configure_json_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """A JSON handler on the root logger writing to a buffer, removed afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_json_logging("DEBUG", stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
