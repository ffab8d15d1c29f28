"""Claiming due schedules and creating their runs, on SQLite and PostgreSQL, with a controllable clock."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from app import constants
from app.models import OverlapPolicy, RunStatus
from tests.worker.beat_support import (
    T0,
    FakeEnqueuer,
    add_schedule,
    drive,
    finish_runs,
    get_schedule,
    runs,
    scheduled_times,
    update_schedule,
    utc,
)
from worker.dispatch import claim_and_create_runs, fire_due_schedules
from worker.sweep import sweep

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def enqueuer() -> FakeEnqueuer:
    return FakeEnqueuer()


def test_a_due_schedule_gets_a_run_its_next_time_and_a_fire_run_message(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    s = add_schedule(engine, interval_s=60, last_fire_at=T0)
    result = fire_due_schedules(engine, enqueuer, T0 + MINUTE + SECOND)
    [run] = runs(engine)
    assert (run.status, run.scheduled_for, run.window_start, run.window_end) == (
        RunStatus.PENDING,
        T0 + MINUTE,
        T0,
        T0 + MINUTE,
    )
    assert run.enqueued_at == T0 + MINUTE + SECOND
    assert enqueuer.sent == [(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, run.id)]
    assert result.lags_s == [1.0]
    after = get_schedule(engine, s.id)
    assert (after.next_fire_at, after.last_fire_at) == (T0 + 2 * MINUTE, T0 + MINUTE)


def test_schedules_not_yet_due_are_not_read(engine: Engine, enqueuer: FakeEnqueuer) -> None:
    for n in range(20):
        add_schedule(engine, name=f"later-{n}", interval_s=3600)
    add_schedule(engine, name="due", interval_s=60)
    result = fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    assert result.claimed == 1
    assert len(runs(engine)) == 1


def test_a_full_batch_says_more_may_be_due_and_the_next_claim_takes_the_rest(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    for n in range(5):
        add_schedule(engine, name=f"s{n}", interval_s=60)
    first = claim_and_create_runs(engine, T0 + MINUTE, batch=3)
    second = claim_and_create_runs(engine, T0 + MINUTE, batch=3)
    assert (first.claimed, first.full, second.claimed, second.full) == (3, True, 2, False)
    assert len(runs(engine)) == 5


def test_an_every_second_schedule_fires_each_second_once_with_no_gap(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    s = add_schedule(engine, interval_s=1)
    drive(engine, enqueuer, T0 + 100 * SECOND, lateness=timedelta(milliseconds=300))
    assert scheduled_times(engine, s.id) == [T0 + n * SECOND for n in range(1, 100)]
    assert sorted(enqueuer.ids(constants.TASK_FIRE_RUN)) == sorted({r.id for r in runs(engine)})


def test_a_fire_already_recorded_is_neither_created_nor_sent_again(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    s = add_schedule(engine, interval_s=60)
    fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    update_schedule(engine, s.id, next_fire_at=T0 + MINUTE)  # as a stale second beat would see it
    fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    assert len(runs(engine)) == 1
    assert len(enqueuer.sent) == 1


def test_a_paused_schedule_does_not_fire_and_resumes_at_its_next_regular_time(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    s = add_schedule(engine, interval_s=60)
    update_schedule(engine, s.id, enabled=False)
    fire_due_schedules(engine, enqueuer, T0 + 5 * MINUTE)
    assert runs(engine) == []
    update_schedule(engine, s.id, enabled=True, next_fire_at=T0 + 6 * MINUTE)  # the API recomputes it
    fire_due_schedules(engine, enqueuer, T0 + 6 * MINUTE)
    assert scheduled_times(engine) == [T0 + 6 * MINUTE]


def test_an_edit_takes_effect_on_the_next_tick(engine: Engine, enqueuer: FakeEnqueuer) -> None:
    s = add_schedule(engine, interval_s=60)
    fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    update_schedule(engine, s.id, interval_s=600, next_fire_at=T0 + 10 * MINUTE)
    drive(engine, enqueuer, T0 + 30 * MINUTE)
    assert scheduled_times(engine) == [T0 + MINUTE, T0 + 10 * MINUTE, T0 + 20 * MINUTE, T0 + 30 * MINUTE]


def test_overlap_skip_records_a_skipped_run_while_the_previous_is_unfinished(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    s = add_schedule(engine, interval_s=60, overlap=OverlapPolicy.SKIP)
    fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    fire_due_schedules(engine, enqueuer, T0 + 2 * MINUTE)
    finish_runs(engine)
    fire_due_schedules(engine, enqueuer, T0 + 3 * MINUTE)
    statuses = [(r.scheduled_for, r.status) for r in runs(engine, s.id)]
    assert statuses == [
        (T0 + MINUTE, RunStatus.SUCCEEDED),
        (T0 + 2 * MINUTE, RunStatus.SKIPPED),
        (T0 + 3 * MINUTE, RunStatus.PENDING),
    ]
    skipped = runs(engine, s.id)[1]
    assert skipped.finished_at is not None
    assert "overlap" in skipped.message
    assert len(enqueuer.sent) == 2  # a skipped run is never sent


def test_overlap_allow_fires_while_the_previous_run_is_unfinished(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    add_schedule(engine, interval_s=60, overlap=OverlapPolicy.ALLOW)
    fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    fire_due_schedules(engine, enqueuer, T0 + 2 * MINUTE)
    assert [r.status for r in runs(engine)] == [RunStatus.PENDING, RunStatus.PENDING]


def test_start_at_and_end_at_bound_the_fires(engine: Engine, enqueuer: FakeEnqueuer) -> None:
    add_schedule(engine, interval_s=60, start_at=T0 + 10 * MINUTE, end_at=T0 + 13 * MINUTE)
    drive(engine, enqueuer, T0 + 60 * MINUTE)
    assert scheduled_times(engine) == [T0 + m * MINUTE for m in (10, 11, 12, 13)]


def test_a_one_shot_fires_once(engine: Engine, enqueuer: FakeEnqueuer) -> None:
    s = add_schedule(engine, interval_s=None, at=T0 + 5 * MINUTE)
    drive(engine, enqueuer, T0 + 60 * MINUTE)
    assert scheduled_times(engine) == [T0 + 5 * MINUTE]
    assert get_schedule(engine, s.id).next_fire_at is None


def test_misfire_after_downtime_follows_each_policy(engine: Engine, enqueuer: FakeEnqueuer) -> None:
    none = add_schedule(engine, name="none", interval_s=60, misfire="none")
    latest = add_schedule(engine, name="latest", interval_s=60, misfire="latest")
    every = add_schedule(engine, name="all", interval_s=60, misfire="all", misfire_window_s=300)
    fire_due_schedules(engine, enqueuer, T0 + 30 * MINUTE + 30 * SECOND)  # back after 30 minutes
    assert scheduled_times(engine, none.id) == [T0 + 30 * MINUTE]  # the one within the grace
    assert scheduled_times(engine, latest.id) == [T0 + 30 * MINUTE]
    assert scheduled_times(engine, every.id) == [T0 + m * MINUTE for m in range(26, 31)]
    fire_due_schedules(engine, enqueuer, T0 + 90 * MINUTE + 30 * SECOND)  # down for another hour
    assert scheduled_times(engine, none.id) == [T0 + 30 * MINUTE, T0 + 90 * MINUTE]
    assert scheduled_times(engine, latest.id) == [T0 + 30 * MINUTE, T0 + 90 * MINUTE]
    assert scheduled_times(engine, every.id)[5:] == [T0 + m * MINUTE for m in range(86, 91)]
    assert get_schedule(engine, none.id).next_fire_at == T0 + 91 * MINUTE


def test_jittered_fires_keep_their_nominal_time_and_fire_once_each(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    s = add_schedule(engine, interval_s=60, jitter_s=45)
    drive(engine, enqueuer, T0 + 30 * MINUTE + 50 * SECOND)
    assert scheduled_times(engine, s.id) == [T0 + m * MINUTE for m in range(1, 31)]
    lags = [(r.created_at - r.scheduled_for).total_seconds() for r in runs(engine, s.id)]
    assert all(0 <= lag < 45 for lag in lags)
    assert len(set(lags)) > 20


def test_a_broker_refusal_leaves_the_run_for_the_sweep(engine: Engine) -> None:
    add_schedule(engine, interval_s=60)
    down = FakeEnqueuer(fail_after=0)
    result = fire_due_schedules(engine, down, T0 + MINUTE)
    [run] = runs(engine)
    assert (result.sent, run.enqueued_at) == (0, None)
    up = FakeEnqueuer()
    sweep(engine, up, T0 + MINUTE + 10 * SECOND, requeue_after_s=300)
    assert up.sent == [(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, run.id)]


def test_concurrent_claims_never_create_or_send_a_fire_twice(engine: Engine) -> None:
    # SQLite: BEGIN IMMEDIATE serialises the claimers; PostgreSQL: FOR UPDATE SKIP LOCKED.
    for n in range(60):
        add_schedule(engine, name=f"s{n}", interval_s=1)
    enqueuers = [FakeEnqueuer() for _ in range(4)]
    errors: list[BaseException] = []

    def beat(enqueuer: FakeEnqueuer) -> None:
        try:
            for step in range(1, 11):
                fire_due_schedules(engine, enqueuer, T0 + step * SECOND, batch=7)
                fire_due_schedules(engine, enqueuer, T0 + step * SECOND, batch=7)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=beat, args=(e,)) for e in enqueuers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = [row_id for e in enqueuers for row_id in e.ids(constants.TASK_FIRE_RUN)]
    all_runs = runs(engine)
    assert len(sent) == len(set(sent)) == len(all_runs)
    assert len({(r.schedule_id, r.scheduled_for) for r in all_runs}) == len(all_runs)
    assert len(all_runs) >= 60 * 9


def test_a_daily_cron_in_a_time_zone_fires_at_local_time_across_the_spring_change(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    start = utc(2026, 3, 27, 12, 0)
    add_schedule(engine, now=start, cron="30 2 * * *", timezone="Europe/Berlin")
    drive(engine, enqueuer, utc(2026, 3, 31, 0, 0))
    # 02:30 CET, then 02:30 does not exist on the 29th: 03:00 CEST, then 02:30 CEST.
    assert scheduled_times(engine) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 30, 0, 30),
    ]


def test_a_daily_cron_fires_once_on_the_repeated_hour_of_the_autumn_change(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    start = utc(2026, 10, 24, 12, 0)
    add_schedule(engine, now=start, cron="30 2 * * *", timezone="Europe/Berlin")
    drive(engine, enqueuer, utc(2026, 10, 27, 0, 0))
    assert scheduled_times(engine) == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_an_hourly_cron_fires_every_real_hour_on_both_change_days(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    spring = add_schedule(
        engine, name="spring", now=utc(2026, 3, 28, 22, 59), cron="0 * * * *", timezone="Europe/Berlin"
    )
    autumn = add_schedule(
        engine, name="autumn", now=utc(2026, 10, 24, 21, 59), cron="0 * * * *", timezone="Europe/Berlin"
    )
    drive(engine, enqueuer, utc(2026, 3, 29, 21, 59))  # the local day of 29 March: 23 hours
    assert len(scheduled_times(engine, spring.id)) == 23
    update_schedule(engine, spring.id, enabled=False)
    drive(engine, enqueuer, utc(2026, 10, 25, 22, 59))  # the local day of 25 October: 25 hours
    times = scheduled_times(engine, autumn.id)
    assert len(times) == 25
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))


def test_a_schedule_whose_trigger_cannot_be_evaluated_does_not_stop_the_others(
    engine: Engine, enqueuer: FakeEnqueuer
) -> None:
    broken = add_schedule(engine, name="broken", interval_s=60)
    update_schedule(engine, broken.id, interval_s=None, cron="not a cron")  # bypassing the API's checks
    healthy = add_schedule(engine, name="healthy", interval_s=60)
    fire_due_schedules(engine, enqueuer, T0 + MINUTE)
    assert scheduled_times(engine, healthy.id) == [T0 + MINUTE]
    assert runs(engine, broken.id) == []
    assert get_schedule(engine, broken.id).next_fire_at is None
