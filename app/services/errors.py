"""The errors of the domain operations; the API maps each to an HTTP status and ``{"code","message"}``."""

from __future__ import annotations


class ServiceError(Exception):
    """Raised when a domain operation cannot be done (root of this package's errors)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentServiceError(ServiceError):
    """Raised when the request itself is at fault; repeating it unchanged fails again."""


class RetryableServiceError(ServiceError):
    """Raised when a dependency (database, broker, InfluxDB) is unavailable; a retry may succeed."""

    status = 503
    code = "unavailable"


class InvalidInput(PermanentServiceError):
    """Raised when a value is malformed or inconsistent; ``field`` names it."""

    status = 422
    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(PermanentServiceError):
    """Raised when the resource named in the request does not exist."""

    status = 404
    code = "not found"

    def __init__(self, resource: str, ident: object) -> None:
        super().__init__(f"{resource} {ident} not found")


class Conflict(PermanentServiceError):
    """Raised when the request clashes with the current state (a name taken, a resource in use)."""

    status = 409
    code = "conflict"


class Unavailable(RetryableServiceError):
    """Raised when a dependency the operation needs cannot be reached."""
