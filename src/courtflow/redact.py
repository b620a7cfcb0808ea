"""Secret redaction in one place, used by logs, errors and reports."""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "***"

# A CourtListener token is 40 hex characters; what follows the header's "Token " is
# secret too. Case-sensitive on purpose: prose such as "API_TOKEN is malformed" stays.
_TOKEN_HEADER = re.compile(r"(\bToken\s+)[^\s'\",]{8,}")
_HEX40 = re.compile(r"\b[0-9a-fA-F]{40}\b")


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks.

    >>> s = Secret("abc"); str(s), s.reveal()
    ('***', 'abc')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str, *secrets: str | Secret | None) -> str:
    """Remove known secrets and anything shaped like a token from ``text``."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, REDACTED)
    text = _TOKEN_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
    return _HEX40.sub(REDACTED, text)
