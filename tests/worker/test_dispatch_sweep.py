"""The sweep: delayed work come due and work never picked up goes back on the broker, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from app import constants
from app.models import Delivery, DeliveryStatus, Invocation, InvocationStatus, RunStatus
from tests.worker.beat_support import (
    T0,
    FakeEnqueuer,
    add_delivery,
    add_invocation,
    add_run,
    add_schedule,
    get_row,
)
from worker.sweep import sweep

REQUEUE_S = 300
NOW = T0 + timedelta(hours=1)
LONG_AGO = NOW - timedelta(seconds=REQUEUE_S + 1)
RECENTLY = NOW - timedelta(seconds=10)


@pytest.fixture
def run_id(engine: Engine) -> int:
    schedule = add_schedule(engine)
    return add_run(engine, schedule.id, status=RunStatus.RUNNING)


def swept(engine: Engine, now: object = NOW) -> FakeEnqueuer:
    enqueuer = FakeEnqueuer()
    sweep(engine, enqueuer, now, requeue_after_s=REQUEUE_S)  # type: ignore[arg-type]
    return enqueuer


def test_a_waiting_invocation_is_sent_when_its_attempt_is_due(engine: Engine, run_id: int) -> None:
    due = add_invocation(engine, run_id, 0, status=InvocationStatus.WAITING, next_attempt_at=NOW)
    add_invocation(
        engine, run_id, 1, status=InvocationStatus.WAITING, next_attempt_at=NOW + timedelta(seconds=1)
    )
    enqueuer = swept(engine)
    assert enqueuer.sent == [(constants.TASK_INVOKE, constants.QUEUE_INVOKE, due)]
    row = get_row(engine, Invocation, due)
    assert (row.status, row.enqueued_at) == (InvocationStatus.QUEUED, NOW)


def test_a_waiting_delivery_is_sent_when_its_attempt_is_due(engine: Engine, run_id: int) -> None:
    due = add_delivery(engine, run_id, 0, status=DeliveryStatus.WAITING, next_attempt_at=NOW)
    add_delivery(engine, run_id, 1, status=DeliveryStatus.WAITING, next_attempt_at=NOW + timedelta(hours=1))
    enqueuer = swept(engine)
    assert enqueuer.sent == [(constants.TASK_DELIVER, constants.QUEUE_DELIVER, due)]
    assert get_row(engine, Delivery, due).status is DeliveryStatus.QUEUED


def test_work_never_sent_is_sent_once_past_the_grace(engine: Engine) -> None:
    schedule = add_schedule(engine)
    old_run = add_run(engine, schedule.id, offset_s=1, status=RunStatus.RUNNING, created_at=LONG_AGO)
    fresh_run = add_run(engine, schedule.id, offset_s=2, status=RunStatus.PENDING, created_at=NOW)
    unsent_run = add_run(engine, schedule.id, offset_s=3, status=RunStatus.PENDING, created_at=RECENTLY)
    old_invocation = add_invocation(engine, old_run, 0, status=InvocationStatus.PENDING)
    add_invocation(engine, fresh_run, 0, status=InvocationStatus.PENDING)
    old_delivery = add_delivery(engine, old_run, 0, status=DeliveryStatus.PENDING, created_at=LONG_AGO)
    add_delivery(engine, fresh_run, 0, status=DeliveryStatus.PENDING, created_at=NOW)
    enqueuer = swept(engine)
    assert enqueuer.ids(constants.TASK_FIRE_RUN) == [unsent_run]
    assert enqueuer.ids(constants.TASK_INVOKE) == [old_invocation]
    assert enqueuer.ids(constants.TASK_DELIVER) == [old_delivery]


def test_work_sent_long_ago_and_never_picked_up_is_sent_again(engine: Engine, run_id: int) -> None:
    schedule = add_schedule(engine, name="other")
    stale_run = add_run(engine, schedule.id, status=RunStatus.PENDING, enqueued_at=LONG_AGO)
    add_run(engine, schedule.id, offset_s=1, status=RunStatus.PENDING, enqueued_at=RECENTLY)
    stale = add_invocation(engine, run_id, 0, status=InvocationStatus.QUEUED, enqueued_at=LONG_AGO)
    add_invocation(engine, run_id, 1, status=InvocationStatus.QUEUED, enqueued_at=RECENTLY)
    stale_delivery = add_delivery(engine, run_id, 0, status=DeliveryStatus.QUEUED, enqueued_at=LONG_AGO)
    add_delivery(engine, run_id, 1, status=DeliveryStatus.QUEUED, enqueued_at=RECENTLY)
    enqueuer = swept(engine)
    assert enqueuer.ids(constants.TASK_FIRE_RUN) == [stale_run]
    assert enqueuer.ids(constants.TASK_INVOKE) == [stale]
    assert enqueuer.ids(constants.TASK_DELIVER) == [stale_delivery]


def test_running_work_whose_lease_expired_is_queued_again(engine: Engine, run_id: int) -> None:
    dead = add_invocation(engine, run_id, 0, status=InvocationStatus.RUNNING, lease_expires_at=NOW)
    add_invocation(
        engine, run_id, 1, status=InvocationStatus.RUNNING, lease_expires_at=NOW + timedelta(seconds=5)
    )
    dead_delivery = add_delivery(engine, run_id, 0, status=DeliveryStatus.RUNNING, lease_expires_at=RECENTLY)
    add_delivery(
        engine, run_id, 1, status=DeliveryStatus.RUNNING, lease_expires_at=NOW + timedelta(seconds=5)
    )
    enqueuer = swept(engine)
    assert enqueuer.ids(constants.TASK_INVOKE) == [dead]
    assert enqueuer.ids(constants.TASK_DELIVER) == [dead_delivery]
    assert get_row(engine, Invocation, dead).status is InvocationStatus.QUEUED


def test_finished_work_is_never_sent(engine: Engine, run_id: int) -> None:
    schedule = add_schedule(engine, name="other")
    for offset, status in enumerate(RunStatus.TERMINAL):
        add_run(engine, schedule.id, offset_s=offset, status=status, created_at=LONG_AGO)
    for index, status in enumerate(InvocationStatus.TERMINAL):
        add_invocation(
            engine, run_id, index, status=status, next_attempt_at=LONG_AGO, lease_expires_at=LONG_AGO
        )
    for index, status in enumerate(DeliveryStatus.TERMINAL):
        add_delivery(
            engine, run_id, index, status=status, next_attempt_at=LONG_AGO, lease_expires_at=LONG_AGO
        )
    assert swept(engine).sent == []


def test_a_second_sweep_sends_nothing_new(engine: Engine, run_id: int) -> None:
    for index in range(5):
        add_invocation(engine, run_id, index, status=InvocationStatus.WAITING, next_attempt_at=RECENTLY)
        add_invocation(engine, run_id, 10 + index, status=InvocationStatus.QUEUED, enqueued_at=LONG_AGO)
    first = swept(engine)
    second = swept(engine, NOW + timedelta(seconds=1))
    assert len(first.sent) == 10
    assert second.sent == []


def test_a_broker_refusal_leaves_the_rest_for_the_next_sweep(engine: Engine, run_id: int) -> None:
    ids = [
        add_invocation(engine, run_id, index, status=InvocationStatus.WAITING, next_attempt_at=RECENTLY)
        for index in range(4)
    ]
    flaky = FakeEnqueuer(fail_after=2)
    sweep(engine, flaky, NOW, requeue_after_s=REQUEUE_S)
    later = swept(engine, NOW + timedelta(seconds=1))
    assert flaky.ids(constants.TASK_INVOKE) == ids[:2]
    assert later.ids(constants.TASK_INVOKE) == ids[2:]
