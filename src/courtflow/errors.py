"""One error hierarchy for courtflow: callers decide by class, never by message text.

Fatal errors must never be retried (a bad token stays bad); transient errors may be.
Messages never contain the API token: build them from status, path and server detail.
"""

from __future__ import annotations


class CourtflowError(Exception):
    """Base of every error courtflow raises on purpose."""


class FatalError(CourtflowError):
    """Retrying cannot help: configuration, credentials, request or account problems."""


class ConfigError(FatalError):
    """A setting is missing or malformed; the message names the setting."""


class AuthError(FatalError):
    """401/403 from the server: bad, missing or under-privileged token."""


class BadRequestError(FatalError):
    """400 (unknown filter, bad value) or 404 on a list/cursor: the request itself is wrong."""


class NotFoundError(BadRequestError):
    """404 on a list or cursor URL: a wrong path, or a cursor the server no longer accepts."""


class CursorLoopError(FatalError):
    """The server's ``next`` links lead back to a page already fetched in this walk.

    Following them would never end; the server is misbehaving, and retrying the same walk
    repeats the loop, so this is fatal.
    """


class BodyTooLargeError(FatalError):
    """A response body exceeds the configured size limit (``COURTFLOW_MAX_BODY_BYTES``).

    The same page would be as large next time; narrow it with ``--fields``/``--omit`` or
    raise the limit.
    """


class BlockedError(FatalError):
    """429 without Retry-After: the account is blocked; waiting will not help."""


class BulkFileError(FatalError):
    """A bulk export file cannot be loaded as it is; the message names the file and line.

    ``line`` is the 1-based physical line of the file where the problem starts (None when
    the file could not be opened at all).
    """

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.line = line
        self.problem = problem


class TooManyRejectsError(FatalError):
    """A run set aside more of its records than allowed (``--max-reject-ratio``,
    ``COURTFLOW_MAX_REJECT_RATIO``), or every record of a page of 5 or more: the local copy would
    silently miss them. Retrying refetches the same records and rejects them again, so
    this is fatal; the window is not marked loaded and the watermark does not pass it.
    ``reason`` says which rule tripped; the records are in ``sync_rejects``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class GoneError(CourtflowError):
    """410 Gone (sealed record): skipped and logged, not retried, not fatal to a sync."""


class TransientError(CourtflowError):
    """The same request may succeed later."""


class ServerError(TransientError):
    """5xx from the server."""


class NetworkError(TransientError):
    """Timeout, connection refused or reset."""


class DeadlineExceededError(NetworkError):
    """A request took longer in total than its deadline (``COURTFLOW_REQUEST_DEADLINE``),
    for instance a body trickled a few bytes at a time."""


class DatabaseUnavailableError(TransientError):
    """The target database stayed unreachable (or kept aborting transactions) for longer
    than the retry policy allows. The message names the database, password masked.
    A rerun resumes from the last committed page."""


class BadPayloadError(TransientError):
    """The response body was truncated or not the JSON we expect."""


class ThrottledError(TransientError):
    """429 with Retry-After: the server wants us to wait ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExhaustedError(TransientError):
    """The call budget has no room until ``available_at`` (epoch seconds, database clock).

    Raised instead of sleeping when the wait is longer than the caller allows, so an
    Airflow task can defer to a trigger and free its worker slot.
    """

    def __init__(
        self, message: str, available_at: float, wait_seconds: float, ticket: int | None = None
    ) -> None:
        super().__init__(message)
        self.available_at = available_at
        self.wait_seconds = wait_seconds
        # The caller's place in the budget's waiters' queue, held for its return.
        self.ticket = ticket


def is_transient(exc: BaseException) -> bool:
    """The single retry predicate: True when retrying the same request may succeed."""
    return isinstance(exc, TransientError) and not isinstance(exc, BudgetExhaustedError)
