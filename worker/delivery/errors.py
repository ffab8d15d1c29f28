"""The delivery error tree: a root, then retryable vs permanent."""

from __future__ import annotations


class DeliveryError(Exception):
    """Raised when one delivery attempt fails; the root of this package's errors.

    ``status_code`` is the destination's HTTP status when it answered.
    """

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableDeliveryError(DeliveryError):
    """Raised when an attempt failed in a way that may pass: a network error, a timeout, 408, 429 or 5xx,
    an unreachable store. ``retry_after_s`` is the destination's ``Retry-After`` when it sent one."""

    retryable = True

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(DeliveryError):
    """Raised when trying again cannot help: a 3xx (redirects are not followed) or another 4xx, a URL the
    network policy refuses, a CSV above the webhook size cap, a destination that no longer exists."""
