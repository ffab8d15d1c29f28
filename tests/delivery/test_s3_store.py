"""The S3 result store against moto's S3 server on a real port."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from worker.results import S3ResultStore, get_result_store
from worker.results.s3upload import upload_stream

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def random_csv(size: int) -> bytes:
    line = b"2026-11-26T10:00:00Z,sensor-1," + os.urandom(24).hex().encode() + b"\r\n"
    return (line * (size // len(line) + 1))[:size]


class FailingStream:
    """Yields ``good`` bytes, then raises as a network stream cut mid-way would."""

    def __init__(self, good: bytes) -> None:
        self.good = good
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        if self.offset >= len(self.good):
            raise RuntimeError("stream cut")
        chunk = self.good[self.offset : self.offset + size]
        self.offset += len(chunk)
        return chunk


def test_s3_url_selects_the_bucket_store(s3_settings: Settings) -> None:
    store = get_result_store("s3://results-bucket/some/prefix?gzip=1")
    assert isinstance(store, S3ResultStore)
    assert (store.bucket, store.prefix, store.gzip) == ("results-bucket", "some/prefix", True)


def test_small_result_is_stored_at_the_key_with_equal_bytes(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = random_csv(100_000)
    (tmp_path / "r.csv").write_bytes(data)
    store = S3ResultStore(bucket, "pre", client=s3)
    location = store.put("daily/20261126T100000Z/0-abc.csv", tmp_path / "r.csv")
    assert location == f"s3://{bucket}/pre/daily/20261126T100000Z/0-abc.csv"
    obj = s3.get_object(Bucket=bucket, Key="pre/daily/20261126T100000Z/0-abc.csv")
    assert obj["Body"].read() == data
    assert obj["ContentType"] == "text/csv"


def test_large_result_goes_up_in_parts_with_equal_bytes(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = random_csv(19 * MIB + 123)
    (tmp_path / "r.csv").write_bytes(data)
    store = S3ResultStore(bucket, "", client=s3)
    location = store.put("big.csv", tmp_path / "r.csv")
    with store.open(location) as f:
        assert f.read() == data
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["big.csv"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_retry_overwrites_the_same_key(s3: Any, bucket: str, tmp_path: Path) -> None:
    store = S3ResultStore(bucket, "p", client=s3)
    (tmp_path / "a.csv").write_bytes(b"first")
    (tmp_path / "b.csv").write_bytes(b"second")
    store.put("k.csv", tmp_path / "a.csv")
    location = store.put("k.csv", tmp_path / "b.csv")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["p/k.csv"]
    with store.open(location) as f:
        assert f.read() == b"second"


def test_failure_mid_stream_leaves_no_object_and_no_open_upload(s3: Any, bucket: str) -> None:
    stream = FailingStream(random_csv(17 * MIB))
    with pytest.raises(RuntimeError, match="stream cut"):
        upload_stream(s3, bucket, "broken.csv", stream, content_type="text/csv")
    assert stream.offset > 8 * MIB  # a part had been sent when it broke
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_gzip_round_trip_with_content_encoding(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = random_csv(12 * MIB)
    (tmp_path / "r.csv").write_bytes(data)
    store = S3ResultStore(bucket, "", gzip=True, client=s3)
    location = store.put("z.csv", tmp_path / "r.csv")
    assert location.endswith("/z.csv.gz")
    head = s3.head_object(Bucket=bucket, Key="z.csv.gz")
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentType"] == "text/csv"
    raw = s3.get_object(Bucket=bucket, Key="z.csv.gz")["Body"].read()
    assert gzip.decompress(raw) == data
    with store.open(location, decompress=True) as f:
        assert f.read() == data


def test_presigned_link_fetches_the_object(s3: Any, bucket: str, tmp_path: Path) -> None:
    import httpx

    (tmp_path / "r.csv").write_bytes(b"a,b\r\n")
    store = S3ResultStore(bucket, "", client=s3)
    location = store.put("k.csv", tmp_path / "r.csv")
    link = store.link(location, expires_s=600)
    assert link is not None
    assert httpx.get(link).content == b"a,b\r\n"
