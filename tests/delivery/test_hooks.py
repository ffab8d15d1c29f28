"""Planning deliveries: one row per destination, idempotent also for run-level rows (invocation_id NULL),
on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from app.db import dispose_engines, get_engine
from app.models import Delivery, DeliveryStatus, DestinationKind, Invocation, InvocationStatus
from app.settings import Settings, override_settings
from tests.delivery.support import deliveries, seed, webhook
from tests.support.services import postgres_database
from worker.delivery.hooks import MANIFEST_DESTINATION_INDEX, plan_invocation_deliveries, plan_run_deliveries
from worker.results import FileResultStore

S3_DEST = {"type": "s3", "bucket": "b", "prefix": "p"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    if request.param == "sqlite":
        yield settings.database_url
        return
    with postgres_database() as url, override_settings(**{**settings.model_dump(), "database_url": url}):
        yield url
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
