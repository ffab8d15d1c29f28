"""Planning deliveries: one row per destination, idempotent also for run-level rows (invocation_id NULL),
on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, SQLModel, select

from app.db import dispose_engines, get_engine
from app.models import Delivery, DeliveryStatus, DestinationKind, Invocation, InvocationStatus
from app.settings import Settings, override_settings
from tests.delivery.support import deliveries, seed, webhook
from tests.support.services import postgres_database
from worker.delivery.hooks import MANIFEST_DESTINATION_INDEX, plan_invocation_deliveries, plan_run_deliveries
from worker.results import FileResultStore

S3_DEST = {"type": "s3", "bucket": "b", "prefix": "p"}


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    if request.param == "sqlite":
        yield settings.database_url
        return
    url = request.getfixturevalue("pg_database")
    with override_settings(**{**settings.model_dump(), "database_url": url}):
        yield url
        SQLModel.metadata.drop_all(get_engine())
        dispose_engines()


@pytest.fixture
def store(tmp_path: Path) -> FileResultStore:
    return FileResultStore(tmp_path / "results")


def test_one_queued_row_per_destination(database: str, store: Any, tmp_path: Path) -> None:
    seeded = seed(store, tmp_path, [webhook("https://example.com/h"), S3_DEST])
    ids = plan_invocation_deliveries(seeded.invocation_id)
    rows = deliveries()
    assert [r.id for r in rows] == ids
    assert [(r.destination_index, r.kind, r.status) for r in rows] == [
        (0, DestinationKind.WEBHOOK, DeliveryStatus.QUEUED),
        (1, DestinationKind.S3, DeliveryStatus.QUEUED),
    ]
    assert all(r.enqueued_at is not None and r.invocation_id == seeded.invocation_id for r in rows)
    assert len({r.message_id for r in rows}) == 2


def test_planning_an_invocation_twice_creates_nothing_new(database: str, store: Any, tmp_path: Path) -> None:
    seeded = seed(store, tmp_path, [webhook("https://example.com/h")])
    assert len(plan_invocation_deliveries(seeded.invocation_id)) == 1
    assert plan_invocation_deliveries(seeded.invocation_id) == []
    assert len(deliveries()) == 1


def test_planning_a_run_twice_creates_nothing_new(database: str, store: Any, tmp_path: Path) -> None:
    seeded = seed(store, tmp_path, [webhook("https://example.com/h"), S3_DEST])
    first = plan_run_deliveries(seeded.run_id)
    assert len(first) == 3
    assert plan_run_deliveries(seeded.run_id) == []
    rows = deliveries()
    assert len(rows) == 3
    assert all(r.invocation_id is None for r in rows)
    assert rows[0].destination_index == MANIFEST_DESTINATION_INDEX
    assert rows[0].kind == DestinationKind.MANIFEST


def test_a_run_without_destinations_still_gets_its_manifest(
    database: str, store: Any, tmp_path: Path
) -> None:
    seeded = seed(store, tmp_path, [])
    assert plan_invocation_deliveries(seeded.invocation_id) == []
    [manifest_id] = plan_run_deliveries(seeded.run_id)
    assert deliveries()[0].id == manifest_id


def test_an_invocation_that_did_not_succeed_plans_nothing(database: str, store: Any, tmp_path: Path) -> None:
    seeded = seed(store, tmp_path, [webhook("https://example.com/h")])
    with Session(get_engine()) as session:
        invocation = session.exec(select(Invocation)).one()
        invocation.status = InvocationStatus.FAILED
        session.add(invocation)
        session.commit()
    assert plan_invocation_deliveries(seeded.invocation_id) == []


def test_message_ids_are_unique_in_the_table(database: str, store: Any, tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    seeded = seed(store, tmp_path, [webhook("https://example.com/h")])
    plan_invocation_deliveries(seeded.invocation_id)
    existing = deliveries()[0]
    duplicate = Delivery(
        run_id=seeded.run_id,
        invocation_id=None,
        destination_index=5,
        kind=DestinationKind.WEBHOOK,
        message_id=existing.message_id,
    )
    with Session(get_engine()) as session:
        session.add(duplicate)
        with pytest.raises(IntegrityError):
            session.commit()


def test_claim_wait_and_success_on_each_database(database: str, store: Any, tmp_path: Path) -> None:
    from tests.delivery.support import Clock, Receiver, delivery
    from worker.delivery.pipeline import DeliverDeps, DeliveryOutcome, deliver
    from worker.delivery.webhook import make_webhook_client

    down = Receiver()  # nobody listens: connection refused, retried
    seeded = seed(store, tmp_path, [webhook(down.url)])
    [manifest_id, webhook_id] = plan_run_deliveries(seeded.run_id)
    clock = Clock()
    deps = DeliverDeps(
        webhook=make_webhook_client(allow_loopback=True, allow_private=False),
        store=store,
        s3_client=lambda endpoint, region: pytest.fail("no S3 here"),
        now=clock,
        rand=lambda: 0.0,
    )
    assert deliver(manifest_id, deps) is DeliveryOutcome.SUCCEEDED
    assert deliver(manifest_id, deps) is DeliveryOutcome.SKIPPED
    assert deliver(webhook_id, deps) is DeliveryOutcome.RETRY
    row = delivery(webhook_id)
    assert row.retry_until is not None
    assert row.next_attempt_at is not None
    assert row.retry_until > row.next_attempt_at > clock.now
    assert deliver(webhook_id, deps) is DeliveryOutcome.SKIPPED
    clock.advance_to(row.next_attempt_at)
    assert deliver(webhook_id, deps) is DeliveryOutcome.RETRY
    assert delivery(webhook_id).attempts == 2
    assert delivery(webhook_id).retry_until == row.retry_until  # fixed by the first attempt of the series


def test_a_run_that_ends_again_gets_new_run_level_deliveries(
    database: str, store: Any, tmp_path: Path
) -> None:
    from datetime import timedelta

    from app.models import Run

    seeded = seed(store, tmp_path, [webhook("https://example.com/h")])
    assert len(plan_run_deliveries(seeded.run_id)) == 2
    with Session(get_engine()) as session:  # its failed invocations retried, the run ends later again
        run = session.get(Run, seeded.run_id)
        assert run is not None
        assert run.finished_at is not None
        run.finished_at = run.finished_at + timedelta(minutes=5)
        session.add(run)
        session.commit()
    assert len(plan_run_deliveries(seeded.run_id)) == 2
    assert plan_run_deliveries(seeded.run_id) == []
    assert len({d.message_id for d in deliveries()}) == 4
