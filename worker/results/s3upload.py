"""Streaming upload of one object to S3 with bounded memory, atomic: the object appears complete or not
at all.

Explicit multipart (create_multipart_upload, upload_part, complete_multipart_upload) rather than
boto3's transfer manager: one part in memory at a time, parts sent in order, and an
abort_multipart_upload on ANY failure (the source stream's own errors included) so nothing is left
behind. An object smaller than one part is a single put_object, atomic by itself.
"""

from __future__ import annotations

import contextlib
import logging
import math
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
    total = 0
    try:
        parts: list[dict[str, Any]] = []
        number = 1
        while chunk:
            if number > constants.S3_MAX_PARTS:
                raise PermanentStoreError(f"S3 upload of {key!r}: more than {constants.S3_MAX_PARTS} parts")
            response = client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
            )
            part: dict[str, Any] = {"ETag": response["ETag"], "PartNumber": number}
            part.update({f: response[f] for f in _CHECKSUM_FIELDS if response.get(f)})  # type: ignore[literal-required]
            parts.append(part)
            total += len(chunk)
            number += 1
            chunk = b""  # let the sent part go before the next is read
            chunk = read_exact(stream, part_bytes)
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            log.warning("aborted multipart upload of s3://%s/%s after a failure", bucket, key)
        raise
    return total
