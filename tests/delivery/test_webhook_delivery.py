"""Webhook deliveries end to end against a local receiver on a real port (signatures verified by the
standardwebhooks package), with a driven clock instead of real backoff waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.models import DeliveryStatus, Invocation
from app.settings import Settings, override_settings
from tests.delivery.support import CSV, Clock, Receiver, deliveries, delivery, seed, webhook
from worker.delivery.hooks import plan_invocation_deliveries, plan_run_deliveries
from worker.delivery.pipeline import DeliverDeps, DeliveryOutcome, deliver
from worker.delivery.webhook import make_webhook_client

pytestmark = pytest.mark.integration


def deps_for(store: Any, clock: Clock, *, allow_loopback: bool = True) -> DeliverDeps:
    return DeliverDeps(
        webhook=make_webhook_client(allow_loopback=allow_loopback, allow_private=False),
        store=store,
        s3_client=lambda endpoint, region: pytest.fail("no S3 here"),
        now=clock,
        rand=lambda: 0.0,
    )


def test_event_is_signed_and_links_the_result(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.SUCCEEDED
    [received] = receiver.received
    assert received.verified
    assert received.headers["content-type"] == "application/json"
    event = receiver.events()[0]
    assert event["type"] == "invocation.succeeded"
    assert event["data"]["invocation"]["params"] == {"sensor": "t1"}
    assert event["data"]["invocation"]["rows"] == 2
    assert event["data"]["result"]["url"] == (
        f"{settings.api_public_url}/api/v1/invocations/{seeded.invocation_id}/result"
    )
    row = delivery(delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert received.headers["webhook-id"] == row.message_id


def test_csv_mode_sends_the_csv_itself(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    seeded = seed(store, tmp_path, [webhook(receiver.url, mode="csv")])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.SUCCEEDED
    [received] = receiver.received
    assert received.body == CSV
    assert received.verified
    assert received.headers["content-type"].startswith("text/csv")


def test_csv_mode_above_the_cap_fails_with_a_clear_reason(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    seeded = seed(store, tmp_path, [webhook(receiver.url, mode="csv")])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    with override_settings(**{**settings.model_dump(), "webhook_csv_max_bytes": 10}):
        assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.FAILED
    row = delivery(delivery_id)
    assert row.status == DeliveryStatus.FAILED
    assert "webhook_csv_max_bytes" in (row.last_error or "")
    assert receiver.received == []


def test_receiver_down_then_up_gets_each_event_once_with_the_same_id(
    settings: Settings, store: Any, tmp_path: Path
) -> None:
    receiver = Receiver()  # not started: connections are refused
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    ids = plan_invocation_deliveries(seeded.invocation_id) + plan_run_deliveries(seeded.run_id)
    webhook_ids = [i for i in ids if delivery(i).destination_index == 0]
    assert len(webhook_ids) == 2  # invocation.succeeded and run.completed
    clock = Clock()
    deps = deps_for(store, clock)
    for delivery_id in ids:
        deliver(delivery_id, deps)
    for _ in range(2):  # two more failed rounds while the receiver is down
        rows = [delivery(i) for i in webhook_ids]
        assert all(r.status == DeliveryStatus.WAITING and r.next_attempt_at for r in rows)
        assert [deliver(i, deps) for i in webhook_ids] == [DeliveryOutcome.SKIPPED] * 2  # not due yet
        clock.advance_to(max(r.next_attempt_at for r in rows))  # type: ignore[type-var]
        assert [deliver(i, deps) for i in webhook_ids] == [DeliveryOutcome.RETRY] * 2
    receiver.start()
    try:
        for delivery_id in webhook_ids:
            clock.advance_to(delivery(delivery_id).next_attempt_at)  # type: ignore[arg-type]
            assert deliver(delivery_id, deps) is DeliveryOutcome.SUCCEEDED
    finally:
        receiver.stop()
    assert sorted(e["type"] for e in receiver.events()) == ["invocation.succeeded", "run.completed"]
    assert all(r.verified for r in receiver.received)
    for delivery_id in webhook_ids:
        row = delivery(delivery_id)
        assert (row.status, row.attempts) == (DeliveryStatus.SUCCEEDED, 4)
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        delivery(i).message_id for i in webhook_ids
    )


def test_retries_of_one_delivery_carry_the_same_webhook_id(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.responses = [(503, {}), (500, {})]
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    clock = Clock()
    outcomes = []
    for _ in range(3):
        outcomes.append(deliver(delivery_id, deps_for(store, clock)))
        due = delivery(delivery_id).next_attempt_at
        if due:
            clock.advance_to(due)
    assert outcomes == [DeliveryOutcome.RETRY, DeliveryOutcome.RETRY, DeliveryOutcome.SUCCEEDED]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert all(r.verified for r in receiver.received)


def test_429_waits_at_least_retry_after(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.responses = [(429, {"Retry-After": "900"})]
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    clock = Clock()
    assert deliver(delivery_id, deps_for(store, clock)) is DeliveryOutcome.RETRY
    row = delivery(delivery_id)
    assert row.last_status_code == 429
    assert row.next_attempt_at is not None
    assert (row.next_attempt_at - clock.now).total_seconds() >= 900


def test_410_ends_the_delivery(settings: Settings, store: Any, tmp_path: Path, receiver: Receiver) -> None:
    receiver.responses = [(410, {})]
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.FAILED
    row = delivery(delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.FAILED, 1, 410)
    assert row.next_attempt_at is None


def test_redirect_is_not_followed_and_fails(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.responses = [(302, {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"})]
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.FAILED
    assert [r.path for r in receiver.received] == ["/hook"]
    row = delivery(delivery_id)
    assert row.last_status_code == 302
    assert "redirects are not followed" in (row.last_error or "")


def test_retry_period_over_fails_the_delivery(settings: Settings, store: Any, tmp_path: Path) -> None:
    receiver = Receiver()  # never started
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    with override_settings(**{**settings.model_dump(), "delivery_retry_period_s": 0}):
        assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.FAILED
    assert "retry period over" in (delivery(delivery_id).last_error or "")


def test_loopback_url_is_refused_at_send_time_unless_allowed(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    seeded = seed(store, tmp_path, [webhook(receiver.localhost_url)])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, Clock(), allow_loopback=False)) is DeliveryOutcome.FAILED
    assert receiver.received == []
    row = delivery(delivery_id)
    assert "loopback" in (row.last_error or "")
    assert row.attempts == 1


def test_metadata_address_is_refused_even_with_loopback_allowed(
    settings: Settings, store: Any, tmp_path: Path
) -> None:
    seeded = seed(store, tmp_path, [webhook("http://169.254.169.254/latest/meta-data/")])
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    assert deliver(delivery_id, deps_for(store, Clock(), allow_loopback=True)) is DeliveryOutcome.FAILED
    assert "cloud metadata" in (delivery(delivery_id).last_error or "")


def test_failed_delivery_never_touches_the_invocation(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    from sqlmodel import Session

    from app.db import get_engine

    receiver.responses = [(410, {})]
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    with Session(get_engine()) as session:
        before = session.get(Invocation, seeded.invocation_id).model_dump()  # type: ignore[union-attr]
    [delivery_id] = plan_invocation_deliveries(seeded.invocation_id)
    deliver(delivery_id, deps_for(store, Clock()))
    with Session(get_engine()) as session:
        assert session.get(Invocation, seeded.invocation_id).model_dump() == before  # type: ignore[union-attr]


def test_run_completed_event_links_the_manifest(
    settings: Settings, store: Any, tmp_path: Path, receiver: Receiver
) -> None:
    seeded = seed(store, tmp_path, [webhook(receiver.url)])
    ids = plan_run_deliveries(seeded.run_id)
    assert len(ids) == 2
    for delivery_id in ids:
        assert deliver(delivery_id, deps_for(store, Clock())) is DeliveryOutcome.SUCCEEDED
    [event] = receiver.events()
    assert event["type"] == "run.completed"
    assert event["data"]["run"]["status"] == "succeeded"
    assert event["data"]["manifest_url"].endswith(f"/api/v1/runs/{seeded.run_id}/manifest")
    assert [d.status for d in deliveries()] == [DeliveryStatus.SUCCEEDED] * 2
