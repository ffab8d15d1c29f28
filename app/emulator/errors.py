"""The emulator's error tree. Each error carries the contract's ``code`` and HTTP status."""

from __future__ import annotations

from typing import ClassVar


class EmulatorError(Exception):
    """Raised when a request cannot be served; rendered as the contract's JSON error body."""

    code: ClassVar[str] = "internal error"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentEmulatorError(EmulatorError):
    """Raised when the request itself is wrong: repeating it unchanged gives the same answer."""


class RetryableEmulatorError(EmulatorError):
    """Raised when the server refuses for now (injected 429/500/503): the same request may succeed later."""

    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidError(PermanentEmulatorError):
    """Raised when a body, query parameter, script or invoke parameter is invalid (400 ``invalid``)."""

    code = "invalid"
    status = 400


class UnauthorizedError(PermanentEmulatorError):
    """Raised when the Authorization header is missing or names no known token (401)."""

    code = "unauthorized"
    status = 401


class NotFoundError(PermanentEmulatorError):
    """Raised when a script, bucket or organization does not exist for the caller's org (404)."""

    code = "not found"
    status = 404


class ConflictError(PermanentEmulatorError):
    """Raised when a script name already exists in the org (422 ``conflict``)."""

    code = "conflict"
    status = 422


class TooManyRequestsError(RetryableEmulatorError):
    """Raised when an injected rate-limit fault fires (429, with ``Retry-After``)."""

    code = "too many requests"
    status = 429


class InternalError(RetryableEmulatorError):
    """Raised when an injected 500 fault fires."""

    code = "internal error"
    status = 500


class UnavailableError(RetryableEmulatorError):
    """Raised when an injected 503 fault fires."""

    code = "unavailable"
    status = 503
