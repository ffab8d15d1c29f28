"""The ``s3`` destination: a stored result (or manifest) copied into the destination's bucket.

Streams from the result store into an explicit multipart upload (worker.results.s3upload): one part
in memory at a time, completed only at the end, aborted on any failure. Gzip is applied or removed on
the way when the destination's ``gzip`` differs from how the store keeps the result.

A destination's own ``endpoint_url`` is checked against the network policy (private networks allowed,
loopback only with ``webhook_allow_loopback``, link-local/metadata never) before any request.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from app.netpolicy import HostNotResolved, UrlNotAllowed, check_webhook_url
from app.settings import Settings
from worker.delivery.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from worker.results import ResultStore, ResultStoreError, is_gzip_location
from worker.results.base import CSV_CONTENT_TYPE, gzip_key
from worker.results.keys import join_key
from worker.results.s3client import s3_error
from worker.results.s3upload import upload_stream
from worker.results.streams import GzipCompressingReader, Readable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def check_endpoint(destination: dict[str, Any], settings: Settings) -> None:
    endpoint = destination.get("endpoint_url")
    if not endpoint:
        return
    try:
        check_webhook_url(endpoint, allow_loopback=settings.webhook_allow_loopback, allow_private=True)
    except HostNotResolved as exc:
        raise RetryableDeliveryError(str(exc).replace("webhook", "S3 endpoint")) from None
    except UrlNotAllowed as exc:
        raise PermanentDeliveryError(str(exc).replace("webhook", "S3 endpoint")) from None


def store_error(exc: ResultStoreError) -> DeliveryError:
    if exc.retryable:
        return RetryableDeliveryError(str(exc))
    return PermanentDeliveryError(str(exc))


def copy_to_s3(
    client: S3Client,
    destination: dict[str, Any],
    *,
    store: ResultStore,
    location: str,
    key: str,
    content_type: str = CSV_CONTENT_TYPE,
    size_hint: int | None = None,
) -> str:
    """Copy the stored object at ``location`` to ``bucket/prefix/key`` of ``destination``; return
    ``s3://bucket/key``. ``key`` gets ``.gz`` when the destination wants gzip."""
    bucket = str(destination["bucket"])
    want_gzip = bool(destination.get("gzip")) and content_type == CSV_CONTENT_TYPE
    stored_gzip = is_gzip_location(location)
    full_key = join_key(str(destination.get("prefix") or ""), gzip_key(key, want_gzip))
    try:
        with ExitStack() as stack:
            raw: IO[bytes] = stack.enter_context(
                store.open(location, decompress=stored_gzip and not want_gzip)
            )
            stream: Readable = raw
            if want_gzip and not stored_gzip:
                stream = GzipCompressingReader(raw)
            upload_stream(
                client,
                bucket,
                full_key,
                stream,
                content_type=content_type,
                content_encoding="gzip" if want_gzip else None,
                size_hint=size_hint,
            )
    except ResultStoreError as exc:
        raise store_error(exc) from None
    except (ClientError, BotoCoreError) as exc:
        raise store_error(s3_error(exc, f"upload to s3://{bucket}/{full_key}")) from None
    return f"s3://{bucket}/{full_key}"
