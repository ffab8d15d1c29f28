"""Results in an S3 bucket (``s3://bucket/prefix``): streaming multipart upload completed only at the
end and aborted on failure (s3upload.py); locations are ``s3://bucket/key``."""

from __future__ import annotations

import gzip as gziplib
import io
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from worker.results.base import CSV_CONTENT_TYPE, gzip_key, is_gzip_location
from worker.results.errors import ResultNotFound, StoreUrlError
from worker.results.keys import join_key
from worker.results.s3client import make_s3_client, s3_error
from worker.results.s3upload import upload_stream
from worker.results.streams import GzipCompressingReader, Readable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_SCHEME = "s3://"


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key or prefix) of ``s3://bucket/rest``."""
    if not url.startswith(S3_SCHEME):
        raise StoreUrlError("not an s3:// URL")
    bucket, _, rest = url[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise StoreUrlError("s3:// URL names no bucket")
    return bucket, rest.strip("/")


class S3ResultStore:
    """A bucket and prefix of results."""

    local = False

    def __init__(
        self, bucket: str, prefix: str = "", *, gzip: bool = False, client: S3Client | None = None
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.gzip = gzip
        self.url = f"{S3_SCHEME}{bucket}/{self.prefix}" if self.prefix else f"{S3_SCHEME}{bucket}"
        self._client = client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = make_s3_client()
        return self._client

    def _key(self, key: str) -> str:
        return join_key(self.prefix, key)

    def _object(self, location: str) -> tuple[str, str]:
        bucket, key = parse_s3_url(location)
        if bucket != self.bucket or (self.prefix and not key.startswith(self.prefix + "/")):
            raise StoreUrlError("result location is outside the store's bucket and prefix")
        return bucket, key

    def put_stream(
        self, key: str, source: Readable, *, gzip: bool = False, content_type: str = CSV_CONTENT_TYPE
    ) -> str:
        compress = gzip or self.gzip
        full = self._key(gzip_key(key, compress))
        stream: Readable = GzipCompressingReader(source) if compress else source
        try:
            upload_stream(
                self.client,
                self.bucket,
                full,
                stream,
                content_type=content_type,
                content_encoding="gzip" if compress else None,
            )
        except (ClientError, BotoCoreError) as exc:
            raise s3_error(exc, f"upload of {full!r}") from None
        return f"{S3_SCHEME}{self.bucket}/{full}"

    def put(self, key: str, spool_path: Path, *, gzip: bool = False) -> str:
        with open(spool_path, "rb") as source:
            return self.put_stream(key, source, gzip=gzip)

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> str:
        return self.put_stream(key, io.BytesIO(data), gzip=False, content_type=content_type)

    @contextmanager
    def open(self, location: str, *, decompress: bool = False) -> Iterator[IO[bytes]]:
        bucket, key = self._object(location)
        try:
            body: Any = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ResultNotFound(f"no stored result at {location}") from None
            raise s3_error(exc, f"download of {key!r}") from None
        except BotoCoreError as exc:
            raise s3_error(exc, f"download of {key!r}") from None
        with closing(body):
            if decompress and is_gzip_location(location):
                with gziplib.GzipFile(fileobj=body, mode="rb") as unzipped:
                    yield cast(IO[bytes], unzipped)
            else:
                yield cast(IO[bytes], body)

    def size(self, location: str) -> int:
        bucket, key = self._object(location)
        try:
            return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                raise ResultNotFound(f"no stored result at {location}") from None
            raise s3_error(exc, f"head of {key!r}") from None

    def link(self, location: str, *, expires_s: int) -> str | None:
        bucket, key = self._object(location)
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
            )
        )
