"""Invoke -> result store -> S3 and webhook, through the real pipeline, against the emulator, moto's S3
server and a local receiver, each on a real port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models import DeliveryStatus
from app.settings import Settings
from tests.delivery.support import Clock, Receiver, deliveries, seed_pending, webhook
from tests.support.services import unavailable
from worker.delivery.pipeline import DeliverDeps, DeliveryOutcome, deliver
from worker.delivery.webhook import make_webhook_client
from worker.pipeline.invoke import InvokeDeps, Outcome, run_invocation
from worker.results import get_result_store

pytestmark = pytest.mark.integration

SIZE = 9 * 1024 * 1024 + 321  # two multipart parts


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    try:
        from tests.support.emulator import EmulatorServer
    except ImportError as exc:
        unavailable(f"emulator fixture missing: {exc}")
    try:
        server = EmulatorServer(tokens={"tok": "org1"}).start()
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"cannot start the emulator: {exc}")
    yield server
    server.stop()


def test_invoke_output_reaches_s3_and_webhook_byte_for_byte(
    s3_settings: Settings, s3: Any, bucket: str, emulator: Any, receiver: Receiver, tmp_path: Path
) -> None:
    script_id = emulator.create_script(f"gen-{bucket}", 'from(bucket: "b") |> range(start: -1h)')
    emulator.set_faults({"generate_bytes": SIZE})
    try:
        expected = emulator.invoke(script_id).content
        _run_id, invocation_id = seed_pending(
            emulator.url,
            emulator.token,
            script_id,
            [{"type": "s3", "bucket": bucket, "prefix": "out"}, webhook(receiver.url, mode="csv")],
        )
        sent: list[tuple[str, str, list[int]]] = []
        store = get_result_store(s3_settings.result_store_url)
        with httpx.Client(timeout=60) as http:
            outcome = run_invocation(
                invocation_id,
                InvokeDeps(
                    http=http,
                    limiter=None,
                    store=store,
                    send=lambda t, q, ids: sent.append((t, q, list(ids))),
                ),
            )
    finally:
        emulator.set_faults({})
    assert outcome is Outcome.SUCCEEDED
    assert len(expected) == SIZE
    ids = [i for _task, _queue, batch in sent for i in batch]
    assert len(ids) == 5  # s3 + webhook for the result; manifest + s3 + webhook for the run
    deps = DeliverDeps(
        webhook=make_webhook_client(allow_loopback=True, allow_private=False),
        store=store,
        s3_client=lambda endpoint, region: s3,
        now=Clock(),
    )
    assert [deliver(i, deps) for i in ids] == [DeliveryOutcome.SUCCEEDED] * 5
    assert all(d.status == DeliveryStatus.SUCCEEDED for d in deliveries())
    objects = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    [result_key] = [k for k in objects if k.endswith(".csv")]
    assert result_key.startswith("out/bench/")
    assert result_key.endswith("/0-0000000000000000.csv")
    assert s3.get_object(Bucket=bucket, Key=result_key)["Body"].read() == expected
    assert any(k.endswith("/manifest.json") for k in objects)
    csv_requests = [r for r in receiver.received if r.headers["content-type"].startswith("text/csv")]
    assert [r.body == expected for r in csv_requests] == [True]
    assert all(r.verified for r in receiver.received)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
