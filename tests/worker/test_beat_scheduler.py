"""The Celery beat scheduler class: one tick does the work and says how long to sleep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app import constants
from app.db import get_engine
from app.migrations import upgrade
from app.models import InvocationStatus, RunStatus
from app.settings import Settings, override_settings
from tests.worker.beat_support import T0, FakeEnqueuer, add_invocation, add_run, add_schedule, runs
from worker.beat import DatabaseScheduler
from worker.celery_app import celery_app


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def scheduler(settings: Settings, clock: Clock) -> tuple[DatabaseScheduler, FakeEnqueuer]:
    upgrade(engine=get_engine(), url=settings.database_url)
    value = DatabaseScheduler(celery_app, clock=clock, lazy=True)
    enqueuer = FakeEnqueuer()
    value._enqueuer = enqueuer
    return value, enqueuer


def test_a_tick_fires_due_schedules_and_sends_their_runs(
    scheduler: tuple[DatabaseScheduler, FakeEnqueuer], clock: Clock
) -> None:
    beat, enqueuer = scheduler
    add_schedule(get_engine(), interval_s=60)
    clock.now = T0 + timedelta(minutes=1)
    beat.tick()
    [run] = runs(get_engine())
    assert run.status is RunStatus.PENDING
    assert enqueuer.sent == [(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, run.id)]


def test_with_nothing_due_soon_the_beat_sleeps_one_tick(
    scheduler: tuple[DatabaseScheduler, FakeEnqueuer], settings: Settings
) -> None:
    beat, _ = scheduler
    add_schedule(get_engine(), interval_s=3600)
    assert beat.tick() == settings.beat_tick_s


def test_the_beat_wakes_up_for_the_next_due_schedule_before_a_full_tick(
    scheduler: tuple[DatabaseScheduler, FakeEnqueuer], clock: Clock
) -> None:
    beat, _ = scheduler
    add_schedule(get_engine(), interval_s=60)
    clock.now = T0 + timedelta(seconds=59.75)
    assert beat.tick() == pytest.approx(0.25)


def test_the_beat_wakes_up_for_a_retry_coming_due(
    scheduler: tuple[DatabaseScheduler, FakeEnqueuer], clock: Clock
) -> None:
    beat, enqueuer = scheduler
    schedule = add_schedule(get_engine(), interval_s=3600)
    run_id = add_run(get_engine(), schedule.id, status=RunStatus.RUNNING)
    invocation = add_invocation(
        get_engine(), run_id, 0, status=InvocationStatus.WAITING, next_attempt_at=T0 + timedelta(seconds=0.5)
    )
    assert beat.tick() == pytest.approx(0.5)
    clock.now = T0 + timedelta(seconds=0.5)
    beat.tick()
    assert enqueuer.ids(constants.TASK_INVOKE) == [invocation]


def test_a_tick_that_cannot_reach_the_database_is_retried_next_tick(clock: Clock) -> None:
    with override_settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none") as settings:
        beat = DatabaseScheduler(celery_app, clock=clock, lazy=True)
        beat._enqueuer = FakeEnqueuer()
        assert beat.tick() == settings.beat_tick_s
