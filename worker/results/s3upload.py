"""Streaming upload of one object to S3 with bounded memory, atomic: the object appears complete or not
at all.

Explicit multipart (create_multipart_upload, upload_part, complete_multipart_upload) rather than
boto3's transfer manager: at most ``S3_UPLOAD_CONCURRENCY`` parts in memory and in flight (sent by a
small thread pool while the next part is read), and an abort_multipart_upload on ANY failure (the
source stream's own errors included) once no part is in flight any more, so nothing is left behind.
An object smaller than one part is a single put_object, atomic by itself.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from app import constants
from worker.results.errors import PermanentStoreError
from worker.results.streams import Readable, read_exact

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

_MIB = 1024 * 1024
_CHECKSUM_FIELDS = ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256")


def part_size_for(size_hint: int | None) -> int:
    """A part size that keeps a ``size_hint``-byte object within S3's part count limit."""
    if not size_hint:
        return constants.S3_PART_BYTES
    needed = math.ceil(size_hint / (constants.S3_MAX_PARTS - 1))
    return max(constants.S3_PART_BYTES, math.ceil(needed / _MIB) * _MIB)


def upload_stream(
    client: S3Client,
    bucket: str,
    key: str,
    stream: Readable,
    *,
    content_type: str,
    content_encoding: str | None = None,
    size_hint: int | None = None,
    concurrency: int = constants.S3_UPLOAD_CONCURRENCY,
) -> int:
    """Upload everything ``stream`` yields to ``bucket/key``; return the bytes uploaded.

    Raises whatever the stream or botocore raised; the caller maps botocore errors (s3client.s3_error).
    """
    extra: dict[str, Any] = {"ContentType": content_type}
    if content_encoding:
        extra["ContentEncoding"] = content_encoding
    part_bytes = part_size_for(size_hint)
    chunk = read_exact(stream, part_bytes)
    if len(chunk) < part_bytes:
        client.put_object(Bucket=bucket, Key=key, Body=chunk, **extra)
        return len(chunk)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]

    def send(number: int, body: bytes) -> dict[str, Any]:
        response = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        part: dict[str, Any] = {"ETag": response["ETag"], "PartNumber": number}
        part.update({f: response[f] for f in _CHECKSUM_FIELDS if response.get(f)})  # type: ignore[literal-required]
        return part

    total = 0
    in_flight: deque[Future[dict[str, Any]]] = deque()
    parts: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-part")
    try:
        number = 1
        while chunk:
            if number > constants.S3_MAX_PARTS:
                raise PermanentStoreError(f"S3 upload of {key!r}: more than {constants.S3_MAX_PARTS} parts")
            if len(in_flight) >= concurrency:  # bounded memory: at most `concurrency` parts held
                parts.append(in_flight.popleft().result())
            in_flight.append(pool.submit(send, number, chunk))
            total += len(chunk)
            number += 1
            chunk = b""  # let go of the part before reading the next
            chunk = read_exact(stream, part_bytes)
        while in_flight:
            parts.append(in_flight.popleft().result())
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
    except BaseException:
        for future in in_flight:
            future.cancel()
        pool.shutdown(wait=True)  # no part may land after the abort
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            log.warning("aborted multipart upload of s3://%s/%s after a failure", bucket, key)
        raise
    finally:
        pool.shutdown(wait=True)
    return total
