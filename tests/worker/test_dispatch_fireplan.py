"""Which fires a due schedule gets (misfire, jitter, catch-up): pure functions, a controllable clock."""

from __future__ import annotations

from datetime import timedelta

from app.models import MisfirePolicy, Schedule
from app.triggers import next_fire_after
from tests.worker.beat_support import T0, utc
from worker.fireplan import due_time, jitter_offset, nominal_fire_time, plan_fires

MINUTE = timedelta(minutes=1)


def schedule(**fields: object) -> Schedule:
    fields.setdefault("interval_s", 60)
    value = Schedule(id=7, name="s", connection_id=1, script_id="x", **fields)  # type: ignore[arg-type]
    if value.next_fire_at is None:
        value.next_fire_at = next_fire_after(value, T0)
    return value


def test_an_on_time_fire_runs_with_the_window_since_the_last_fire() -> None:
    s = schedule(last_fire_at=T0)
    plan = plan_fires(s, T0 + MINUTE)
    assert [f.scheduled_for for f in plan.fires] == [T0 + MINUTE]
    assert plan.fires[0].window_start == T0
    assert plan.next_fire_at == T0 + 2 * MINUTE
    assert plan.last_fire_at == T0 + MINUTE


def test_nothing_fires_before_the_due_time() -> None:
    plan = plan_fires(schedule(), T0 + timedelta(seconds=59))
    assert plan.fires == []
    assert plan.next_fire_at == T0 + MINUTE


def test_a_late_tick_within_the_grace_fires_every_time_it_passed_under_any_policy() -> None:
    for policy in MisfirePolicy:
        s = schedule(interval_s=1, misfire=policy)
        plan = plan_fires(s, T0 + timedelta(seconds=5), grace_s=60)
        assert [f.scheduled_for for f in plan.fires] == [T0 + timedelta(seconds=n) for n in range(1, 6)], (
            policy
        )


def test_misfire_none_drops_missed_fires_and_waits_for_the_next_regular_time() -> None:
    s = schedule(misfire=MisfirePolicy.NONE, last_fire_at=T0)
    now = T0 + timedelta(minutes=30, seconds=30)
    plan = plan_fires(s, now, grace_s=10)
    assert plan.fires == []
    assert plan.dropped >= 1
    assert plan.next_fire_at == T0 + timedelta(minutes=31)
    assert plan.last_fire_at == T0  # the next run's window covers the gap


def test_misfire_latest_fires_once_for_the_latest_missed_time() -> None:
    s = schedule(misfire=MisfirePolicy.LATEST, misfire_window_s=3600, last_fire_at=T0)
    plan = plan_fires(s, T0 + timedelta(minutes=30, seconds=30), grace_s=10)
    assert [f.scheduled_for for f in plan.fires] == [T0 + timedelta(minutes=30)]
    assert plan.fires[0].window_start == T0
    assert plan.next_fire_at == T0 + timedelta(minutes=31)


def test_misfire_latest_ignores_fires_older_than_the_window() -> None:
    s = schedule(interval_s=3600, misfire=MisfirePolicy.LATEST, misfire_window_s=600)
    plan = plan_fires(s, T0 + timedelta(hours=1, minutes=30), grace_s=10)
    assert plan.fires == []
    assert plan.next_fire_at == T0 + timedelta(hours=2)


def test_misfire_all_fires_every_missed_time_within_the_window_in_order() -> None:
    s = schedule(misfire=MisfirePolicy.ALL, misfire_window_s=600, last_fire_at=T0)
    now = T0 + timedelta(minutes=30, seconds=30)
    plan = plan_fires(s, now, grace_s=10)
    expected = [T0 + timedelta(minutes=m) for m in range(21, 31)]
    assert [f.scheduled_for for f in plan.fires] == expected
    assert [f.window_start for f in plan.fires] == [T0, *expected[:-1]]
    assert plan.next_fire_at == T0 + timedelta(minutes=31)


def test_misfire_all_catches_up_in_bounded_steps() -> None:
    s = schedule(interval_s=1, misfire=MisfirePolicy.ALL, misfire_window_s=3600)
    now = T0 + timedelta(seconds=100)
    plan = plan_fires(s, now, grace_s=10, max_fires=30)
    assert len(plan.fires) == 30
    assert plan.next_fire_at == T0 + timedelta(seconds=31)  # still due: the next tick goes on from here


def test_jitter_is_deterministic_and_within_bounds() -> None:
    offsets = [jitter_offset(7, T0 + n * MINUTE, 30.0) for n in range(200)]
    assert offsets == [jitter_offset(7, T0 + n * MINUTE, 30.0) for n in range(200)]
    assert all(timedelta(0) <= o < timedelta(seconds=30) for o in offsets)
    assert len(set(offsets)) > 150
    assert jitter_offset(8, T0, 30.0) != jitter_offset(7, T0, 30.0)
    assert jitter_offset(7, T0, 0.0) == timedelta(0)


def test_jitter_delays_next_fire_at_and_keeps_the_nominal_time_as_scheduled_for() -> None:
    s = schedule(jitter_s=20.0, next_fire_at=None)
    s.next_fire_at = due_time(s, T0 + MINUTE)
    assert nominal_fire_time(s) == T0 + MINUTE
    assert s.next_fire_at > T0 + MINUTE
    assert plan_fires(s, T0 + MINUTE).fires == []
    plan = plan_fires(s, s.next_fire_at)
    assert [f.scheduled_for for f in plan.fires] == [T0 + MINUTE]
    assert plan.next_fire_at == due_time(s, T0 + 2 * MINUTE)
    assert plan.next_fire_at != T0 + 2 * MINUTE


def test_a_nominal_next_fire_at_written_by_the_api_gets_its_jitter_before_firing() -> None:
    s = schedule(jitter_s=20.0)  # next_fire_at = T0 + 1 min, as the API computes it
    offset = jitter_offset(s.id, T0 + MINUTE, 20.0)
    assert offset > timedelta(0)
    plan = plan_fires(s, T0 + MINUTE)
    assert plan.fires == []
    assert plan.next_fire_at == T0 + MINUTE + offset


def test_a_one_shot_fires_once() -> None:
    s = schedule(interval_s=None, at=utc(2026, 3, 2, 12, 30))
    plan = plan_fires(s, utc(2026, 3, 2, 12, 30, 1))
    assert [f.scheduled_for for f in plan.fires] == [utc(2026, 3, 2, 12, 30)]
    assert plan.next_fire_at is None


def test_no_fire_after_end_at() -> None:
    s = schedule(end_at=T0 + timedelta(minutes=2, seconds=30))
    plan = plan_fires(s, T0 + 2 * MINUTE)
    assert [f.scheduled_for for f in plan.fires] == [T0 + MINUTE, T0 + 2 * MINUTE]
    assert plan.next_fire_at is None


def test_a_schedule_without_next_fire_at_never_fires() -> None:
    s = schedule()
    s.next_fire_at = None
    assert plan_fires(s, T0 + timedelta(days=1)).fires == []
