"""boto3 S3 clients from the settings, and the mapping of botocore errors onto the store's error tree.

Credentials: ``settings.s3_access_key_id`` / ``s3_secret_access_key`` when both are set, else boto3's
standard chain (environment, shared files, instance or container role). ``s3_endpoint_url`` selects an
S3-compatible server (path-style addressing), ``s3_region`` the region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from app import constants
from app.settings import Settings, get_settings
from worker.results.errors import PermanentStoreError, ResultStoreError, RetryableStoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
    }
)


def make_s3_client(
    *, endpoint_url: str | None = None, region: str | None = None, settings: Settings | None = None
) -> S3Client:
    """An S3 client; ``endpoint_url``/``region`` override the settings' (a destination's own)."""
    settings = settings or get_settings()
    endpoint = endpoint_url or settings.s3_endpoint_url
    kwargs: dict[str, Any] = {
        "region_name": region or settings.s3_region,
        "endpoint_url": endpoint,
        "config": Config(
            signature_version="s3v4",
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": "path"} if endpoint else {},
            connect_timeout=constants.S3_CONNECT_TIMEOUT_S,
            read_timeout=constants.S3_READ_TIMEOUT_S,
        ),
    }
    if settings.s3_access_key_id and settings.s3_secret_access_key is not None:
        kwargs["aws_access_key_id"] = settings.s3_access_key_id
        kwargs["aws_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    return boto3.session.Session().client("s3", **kwargs)


def s3_error(exc: Exception, action: str) -> ResultStoreError:
    """A store error for a botocore failure (the message never holds credentials)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"S3 {action}: {code or status} {error.get('Message', '')}".strip()
        if code in _RETRYABLE_CODES or status >= 500 or status in (408, 429):
            return RetryableStoreError(message)
        return PermanentStoreError(message)
    if isinstance(
        exc,
        EndpointConnectionError
        | ConnectionClosedError
        | ConnectTimeoutError
        | ReadTimeoutError
        | ResponseStreamingError,
    ):
        return RetryableStoreError(f"S3 {action}: {type(exc).__name__}")
    if isinstance(exc, BotoCoreError):
        return PermanentStoreError(f"S3 {action}: {type(exc).__name__}: {exc}")
    return RetryableStoreError(f"S3 {action}: {type(exc).__name__}")
