"""The result store's error tree: a root, then retryable vs permanent."""

from __future__ import annotations


class ResultStoreError(Exception):
    """Raised when a result cannot be stored or read; the root of this package's errors."""

    retryable: bool = False


class RetryableStoreError(ResultStoreError):
    """Raised when the store failed in a way that may pass (network error, timeout, S3 5xx/SlowDown)."""

    retryable = True


class PermanentStoreError(ResultStoreError):
    """Raised when trying again cannot help (access denied, no such bucket, bad configuration)."""


class StoreUrlError(PermanentStoreError, ValueError):
    """Raised when a result store URL or a result location is malformed or outside the store."""


class ResultNotFound(PermanentStoreError):
    """Raised when a result location names no stored object."""
