"""The deliveries API: listing per run and invocation, retrying a failed delivery, the run manifest."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import constants
from app.db import dispose_engines, make_engine
from app.models import DeliveryStatus
from app.settings import Settings, override_settings
from tests.delivery.support import Clock, Receiver, delivery, seed, webhook
from worker.delivery.hooks import plan_invocation_deliveries, plan_run_deliveries
from worker.delivery.pipeline import DeliverDeps, DeliveryOutcome, deliver
from worker.delivery.webhook import make_webhook_client
from worker.results import get_result_store

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def api(tmp_path: Path, redis_url: str) -> Iterator[tuple[TestClient, Settings]]:
    from app.api.main import create_app
    from app.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'api.db'}"
    engine = make_engine(url)
    upgrade(engine=engine, url=url)
    engine.dispose()
    with (
        override_settings(
            database_url=url,
            data_dir=str(tmp_path),
            broker_url=redis_url,
            result_store_url=f"file://{tmp_path / 'results'}",
            api_tokens=["test-token"],
            webhook_allow_loopback=True,
        ) as settings,
        TestClient(create_app(), headers=AUTH, raise_server_exceptions=False) as client,
    ):
        yield client, settings
    dispose_engines()


def deps_for(store: Any) -> DeliverDeps:
    return DeliverDeps(
        webhook=make_webhook_client(allow_loopback=True, allow_private=False),
        store=store,
        s3_client=lambda endpoint, region: pytest.fail("no S3 here"),
        now=Clock(),
        rand=lambda: 0.0,
    )


def deliveries_sent(redis_url: str) -> list[int]:
    import redis

    conn = redis.Redis.from_url(redis_url)
    try:
        raw = conn.lrange(constants.QUEUE_DELIVER, 0, -1)
    finally:
        conn.close()
    return [json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in reversed(raw)]


def test_lists_deliveries_per_run_and_per_invocation(
    api: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, settings = api
    store = get_result_store(settings.result_store_url)
    seeded = seed(store, tmp_path, [webhook("https://example.com/h")])
    [inv_delivery] = plan_invocation_deliveries(seeded.invocation_id)
    run_ids = plan_run_deliveries(seeded.run_id)
    by_run = client.get(f"/api/v1/runs/{seeded.run_id}/deliveries").json()
    assert by_run["total"] == 3
    assert {d["id"] for d in by_run["items"]} == {inv_delivery, *run_ids}
    by_invocation = client.get(f"/api/v1/invocations/{seeded.invocation_id}/deliveries").json()
    [item] = by_invocation["items"]
    assert item["id"] == inv_delivery
    assert item["kind"] == "webhook"
    assert item["status"] == "queued"
    assert item["message_id"].startswith("msg_")
    assert "secret" not in json.dumps(by_run)


def test_unknown_run_is_404_with_code_and_message(api: tuple[TestClient, Settings]) -> None:
    client, _ = api
    response = client.get("/api/v1/runs/999/deliveries")
    assert response.status_code == 404
    assert response.json() == {"code": "not found", "message": "run 999 not found"}


def test_listing_needs_a_token(api: tuple[TestClient, Settings]) -> None:
    client, _ = api
    assert client.get("/api/v1/runs/1/deliveries", headers={"Authorization": ""}).status_code == 401


def test_retry_requeues_a_failed_delivery_with_the_same_id_and_it_then_succeeds(
    api: tuple[TestClient, Settings], tmp_path: Path, redis_url: str
) -> None:
    client, settings = api
    store = get_result_store(settings.result_store_url)
    receiver = Receiver(responses=[(410, {})]).start()
    try:
        seeded = seed(store, tmp_path, [webhook(receiver.url)])
        [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
        assert deliver(delivery_id, deps_for(store)) is DeliveryOutcome.FAILED
        response = client.post(f"/api/v1/deliveries/{delivery_id}/retry")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["enqueued"] is True
        assert (body["delivery"]["status"], body["delivery"]["attempts"]) == ("queued", 0)
        assert deliveries_sent(redis_url) == [delivery_id]
        assert deliver(delivery_id, deps_for(store)) is DeliveryOutcome.SUCCEEDED
    finally:
        receiver.stop()
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery(delivery_id).message_id] * 2
    assert delivery(delivery_id).status == DeliveryStatus.SUCCEEDED


def test_retry_of_a_delivery_that_has_not_failed_is_a_conflict(
    api: tuple[TestClient, Settings], tmp_path: Path
) -> None:
    client, settings = api
    seeded = seed(get_result_store(settings.result_store_url), tmp_path, [webhook("https://example.com/h")])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    response = client.post(f"/api/v1/deliveries/{delivery_id}/retry")
    assert response.status_code == 409
    assert "only a failed delivery" in response.json()["message"]
    assert delivery(delivery_id).status == DeliveryStatus.QUEUED


def test_manifest_is_served_once_stored(api: tuple[TestClient, Settings], tmp_path: Path) -> None:
    client, settings = api
    store = get_result_store(settings.result_store_url)
    seeded = seed(store, tmp_path, [])
    assert client.get(f"/api/v1/runs/{seeded.run_id}/manifest").status_code == 404
    [manifest_id] = plan_run_deliveries(seeded.run_id)
    deliver(manifest_id, deps_for(store))
    response = client.get(f"/api/v1/runs/{seeded.run_id}/manifest")
    assert response.status_code == 200
    assert response.json()["invocations"][0]["params"] == {"sensor": "t1"}
