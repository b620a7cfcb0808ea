"""What to do next, for the errors a first run meets: no token, a wrong base URL."""

from __future__ import annotations

from courtflow.config import DEFAULT_BASE_URL, Settings
from courtflow.errors import (
    AuthError,
    BadPayloadError,
    BadRequestError,
    CourtflowError,
    NetworkError,
)

TOKEN_VARIABLE = "COURTLISTENER_API_TOKEN"
BASE_URL_VARIABLE = "COURTLISTENER_API_BASE_URL"


def no_token_message() -> str:
    return (
        f"error: {TOKEN_VARIABLE} is not set. CourtListener's list endpoints (dockets, "
        "clusters, opinions, courts, ...) need a token; anonymous access only reaches a few "
        "read endpoints, throttled at 100 requests a day per IP address, which no load "
        "fits in.\n"
        "  Sign in at https://www.courtlistener.com, copy your token from "
        "https://www.courtlistener.com/profile/api/ and run:\n"
        f"    export {TOKEN_VARIABLE}=<your 40-hex token>"
    )


def explain(exc: CourtflowError, settings: Settings | None) -> str | None:
    """A hint for ``exc`` that names the setting to check, or None."""
    base = settings.base_url if settings is not None else DEFAULT_BASE_URL
    if isinstance(exc, AuthError):
        if settings is not None and settings.token is None:
            return no_token_message()
        return (f"hint: the server refused {TOKEN_VARIABLE} (HTTP 401/403); check that it is "
                "your current token (https://www.courtlistener.com/profile/api/)")  # fmt: skip
    if isinstance(exc, NetworkError):
        return (f"hint: could not reach {base} ({BASE_URL_VARIABLE}); check the address, "
                "the network and any proxy")  # fmt: skip
    if isinstance(exc, BadPayloadError):
        return (f"hint: {base} ({BASE_URL_VARIABLE}) does not answer like the CourtListener "
                f"REST API v4; it should look like {DEFAULT_BASE_URL}")  # fmt: skip
    if isinstance(exc, BadRequestError):
        return (f"hint: if the path was not found, check that {base} ({BASE_URL_VARIABLE}) "
                f"is the CourtListener REST API v4, like {DEFAULT_BASE_URL}")  # fmt: skip
    return None
