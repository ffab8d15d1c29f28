"""The error tree of the InfluxDB scripts client.

``InfluxError`` is the root; every error is either a :class:`RetryableError` (try again later, honouring
``retry_after``) or a :class:`PermanentError` (the same request will fail the same way). Every error
carries ``status`` (HTTP status or ``None``), ``code`` (the InfluxDB error code or ``None``), ``message``
and ``retry_after`` (seconds, from ``Retry-After``, or ``None``). No error ever holds the token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


class InfluxError(Exception):
    """Raised when a call to the InfluxDB scripts API fails (the root of this package's errors)."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = (f"HTTP {self.status}" if self.status else "", self.code or "")
        head = " ".join(part for part in parts if part)
        text = f"{head}: {self.message}" if head else self.message
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:g} s)"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, retry_after={self.retry_after!r})"
        )


class RetryableError(InfluxError):
    """Raised when a call failed for a reason that may pass: retry it later (after ``retry_after``)."""

    retryable = True


class PermanentError(InfluxError):
    """Raised when a call failed in a way a retry will not fix (bad request, auth, unknown script, ...)."""


class TransportError(RetryableError):
    """Raised when the server cannot be reached or the connection fails before a response arrives."""


class InvokeTimeoutError(RetryableError):
    """Raised when a request (any call, invoke included) or an invoke's whole stream runs out of time."""


class TruncatedBodyError(RetryableError):
    """Raised when a response body is cut off: the connection broke mid-body, or the CSV lacks its end."""


class RateLimitedError(RetryableError):
    """Raised when the server answers 429: the organization is over its limits (see ``retry_after``)."""


class ServerError(RetryableError):
    """Raised when the server answers 500, 502, 503 or 504."""


class BadRequestError(PermanentError):
    """Raised when the server answers 400 (a malformed body, invalid parameters)."""


class UnauthorizedError(PermanentError):
    """Raised when the server answers 401: the token is missing, wrong or revoked."""


class ForbiddenError(PermanentError):
    """Raised when the server answers 403: the token may not do this."""


class NotFoundError(PermanentError):
    """Raised when the server answers 404: an unknown script (or a bucket the script reads)."""


class ConflictError(PermanentError):
    """Raised when the server answers 422 (or 409): a script of that name already exists."""


class ScriptRuntimeError(PermanentError):
    """Raised when an invoke answered 200 but its CSV ends in the ``,error,reference`` table."""


class ResponseFormatError(PermanentError):
    """Raised when a success response does not have the shape the contract promises."""


_BY_STATUS: dict[int, type[InfluxError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: ConflictError,
    429: RateLimitedError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    """The ``code`` and ``message`` of a JSON error body; ``(None, text excerpt)`` for anything else."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", errors="replace").strip()
        return None, text[:500] or None
    if not isinstance(data, dict):
        return None, None
    code, message = data.get("code"), data.get("message")
    return (
        code if isinstance(code, str) and code else None,
        message if isinstance(message, str) and message else None,
    )


def error_from_response(response: httpx.Response, body: bytes) -> InfluxError:
    """The error for an unsuccessful response whose (possibly partial) body is ``body``."""
    status = response.status_code
    code, message = _error_fields(body)
    code = code or response.headers.get("X-Platform-Error-Code") or None
    if message is None:
        message = response.reason_phrase or f"unexpected status {status}"
    cls = _BY_STATUS.get(status, PermanentError)
    return cls(
        message,
        status=status,
        code=code,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def error_from_transport(exc: httpx.HTTPError, url: str) -> InfluxError:
    """The error for an httpx failure before a response arrived (timeouts, refused connections, ...)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return InvokeTimeoutError(f"timed out talking to {url}: {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return PermanentError(f"cannot talk to {url}: {detail}")
    return TransportError(f"cannot reach {url}: {detail}")
