"""S3 destinations and the run manifest, against moto's S3 server on a real port."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models import DeliveryStatus
from app.settings import Settings
from tests.delivery.support import CSV, Clock, Receiver, delivery, seed, webhook
from worker.delivery.hooks import plan_invocation_deliveries, plan_run_deliveries
from worker.delivery.pipeline import DeliverDeps, DeliveryOutcome, deliver
from worker.delivery.webhook import make_webhook_client
from worker.results import FileResultStore, S3ResultStore

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def deps_for(store: Any, s3: Any) -> DeliverDeps:
    return DeliverDeps(
        webhook=make_webhook_client(allow_loopback=True, allow_private=False),
        store=store,
        s3_client=lambda endpoint, region: s3,
        now=Clock(),
        rand=lambda: 0.0,
    )


def big_csv(size: int) -> bytes:
    line = b",_result,0,2026-11-26T10:00:00Z," + os.urandom(16).hex().encode() + b"\r\n"
    return (b"result,table,_time,value\r\n" + line * (size // len(line) + 1))[:size]


def test_result_lands_at_the_destination_key_with_equal_bytes(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    data = big_csv(9 * MIB + 17)  # two parts
    store = FileResultStore(tmp_path / "results")
    dest = {
        "type": "s3",
        "bucket": bucket,
        "prefix": "exports/",
        "key_template": "{param.sensor}/{index}.csv",
    }
    seeded = seed(store, tmp_path, [dest], data=data)
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, s3)) is DeliveryOutcome.SUCCEEDED
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["exports/t1/0.csv"]
    assert s3.get_object(Bucket=bucket, Key="exports/t1/0.csv")["Body"].read() == data
    assert delivery(delivery_id).location == f"s3://{bucket}/exports/t1/0.csv"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_default_key_template_is_used_without_one(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    store = FileResultStore(tmp_path / "results")
    seeded = seed(store, tmp_path, [{"type": "s3", "bucket": bucket}])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    deliver(delivery_id, deps_for(store, s3))
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "daily/20261126T100000Z/0-abcd1234abcd1234.csv"
    ]


def test_gzip_destination_gets_a_gzip_object(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    data = big_csv(100_000)
    store = FileResultStore(tmp_path / "results")
    seeded = seed(store, tmp_path, [{"type": "s3", "bucket": bucket, "gzip": True}], data=data)
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    deliver(delivery_id, deps_for(store, s3))
    key = "daily/20261126T100000Z/0-abcd1234abcd1234.csv.gz"
    obj = s3.get_object(Bucket=bucket, Key=key)
    assert obj["ContentEncoding"] == "gzip"
    assert gzip.decompress(obj["Body"].read()) == data


def test_gzip_store_to_plain_destination_is_decompressed(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    data = big_csv(50_000)
    store = FileResultStore(tmp_path / "results", gzip=True)
    seeded = seed(store, tmp_path, [{"type": "s3", "bucket": bucket}], data=data)
    assert seeded.location.endswith(".csv.gz")
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    deliver(delivery_id, deps_for(store, s3))
    obj = s3.get_object(Bucket=bucket, Key="daily/20261126T100000Z/0-abcd1234abcd1234.csv")
    assert obj["Body"].read() == data


def test_missing_bucket_fails_without_retry(s3_settings: Settings, s3: Any, tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    seeded = seed(store, tmp_path, [{"type": "s3", "bucket": "no-such-bucket-here"}])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, s3)) is DeliveryOutcome.FAILED
    assert "NoSuchBucket" in (delivery(delivery_id).last_error or "")


def test_unreachable_s3_is_retried(s3_settings: Settings, tmp_path: Path) -> None:
    from tests.support.services import free_port
    from worker.results.s3client import make_s3_client

    dead = make_s3_client(endpoint_url=f"http://127.0.0.1:{free_port()}")
    store = FileResultStore(tmp_path / "results")
    seeded = seed(store, tmp_path, [{"type": "s3", "bucket": "b"}])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, dead)) is DeliveryOutcome.RETRY
    assert delivery(delivery_id).status == DeliveryStatus.WAITING


def test_manifest_lists_every_invocation_next_to_the_results(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    store = S3ResultStore(bucket, "store", client=s3)
    seeded = seed(store, tmp_path, [])
    [manifest_id] = plan_run_deliveries(seeded.run_id)
    assert deliver(manifest_id, deps_for(store, s3)) is DeliveryOutcome.SUCCEEDED
    key = "store/daily/20261126T100000Z/manifest.json"
    assert delivery(manifest_id).location == f"s3://{bucket}/{key}"
    obj = s3.get_object(Bucket=bucket, Key=key)
    assert obj["ContentType"] == "application/json"
    manifest = json.loads(obj["Body"].read())
    [entry] = manifest["invocations"]
    assert entry["params"] == {"sensor": "t1"}
    assert entry["status"] == "succeeded"
    assert entry["location"] == seeded.location
    assert (entry["rows"], entry["bytes"], entry["sha256"]) == (2, len(CSV), "0" * 64)
    assert manifest["run"]["id"] == seeded.run_id


def test_s3_store_event_links_a_presigned_url(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path, receiver: Receiver
) -> None:
    store = S3ResultStore(bucket, "", client=s3)
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, s3)) is DeliveryOutcome.SUCCEEDED
    url = receiver.events()[0]["data"]["result"]["url"]
    assert "X-Amz-Signature" in url
    assert httpx.get(url).content.startswith(b"result,table")


def test_run_level_s3_destination_gets_the_manifest(
    s3_settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    store = FileResultStore(tmp_path / "results")
    seeded = seed(store, tmp_path, [{"type": "s3", "bucket": bucket, "prefix": "out"}])
    ids = plan_run_deliveries(seeded.run_id)
    for delivery_id in ids:
        assert deliver(delivery_id, deps_for(store, s3)) is DeliveryOutcome.SUCCEEDED
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "out/daily/20261126T100000Z/manifest.json"
    ]


def test_destination_endpoint_on_a_metadata_address_is_refused(
    s3_settings: Settings, s3: Any, tmp_path: Path
) -> None:
    store = FileResultStore(tmp_path / "results")
    dest = {"type": "s3", "bucket": "b", "endpoint_url": "http://169.254.169.254/"}
    seeded = seed(store, tmp_path, [dest])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, s3)) is DeliveryOutcome.FAILED
    assert "S3 endpoint" in (delivery(delivery_id).last_error or "")
