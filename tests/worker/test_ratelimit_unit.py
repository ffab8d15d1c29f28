"""The fleet-wide limiter (Lua in Redis) on fakeredis with a driven clock: rate, burst, slots, pause."""

from __future__ import annotations

import fakeredis
import pytest

from worker.ratelimit import Limits, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> RateLimiter:
    return RateLimiter(fakeredis.FakeRedis(), clock=clock)


def rate(per_s: float, burst: int) -> Limits:
    return Limits(connection_id=1, rate_per_s=per_s, burst=burst, max_concurrency=0)


def admitted_in(
    limiter: RateLimiter, clock: Clock, limits: Limits, seconds: float, step: float
) -> list[float]:
    """Try every ``step`` seconds for ``seconds``; the times admitted."""
    times = []
    start = clock.t
    n = 0
    while clock.t < start + seconds:
        if limiter.try_acquire(limits, f"h{n}", lease_s=10).allowed:
            times.append(clock.t - start)
        n += 1
        clock.t += step
    return times


def test_no_rate_no_cap_always_allows(limiter: RateLimiter) -> None:
    limits = Limits(connection_id=1, rate_per_s=None, burst=1, max_concurrency=0)
    assert all(limiter.try_acquire(limits, f"h{i}", lease_s=10).allowed for i in range(100))


def test_the_sustained_rate_is_the_configured_rate(limiter: RateLimiter, clock: Clock) -> None:
    times = admitted_in(limiter, clock, rate(10, 10), seconds=20, step=0.01)
    assert 199 <= len(times) <= 201


def test_a_burst_passes_at_once_then_the_rate_holds(limiter: RateLimiter, clock: Clock) -> None:
    limits = rate(10, 15)
    at_once = sum(limiter.try_acquire(limits, f"h{i}", lease_s=10).allowed for i in range(50))
    assert at_once == 6  # burst - rate + 1: the rest of the first second's budget refills at the rate


@pytest.mark.parametrize(("per_s", "burst"), [(10, 10), (10, 15), (50, 60), (5, 1), (1, 3)])
def test_no_one_second_window_exceeds_the_burst(
    limiter: RateLimiter, clock: Clock, per_s: float, burst: int
) -> None:
    times = admitted_in(limiter, clock, rate(per_s, burst), seconds=3, step=0.004)
    most = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert most <= max(burst, per_s)


def test_a_denied_request_is_told_how_long_to_wait(limiter: RateLimiter, clock: Clock) -> None:
    limits = rate(2, 1)
    assert limiter.try_acquire(limits, "a", lease_s=10).allowed
    decision = limiter.try_acquire(limits, "b", lease_s=10)
    assert (decision.allowed, decision.reason, decision.wait_s) == (False, "rate", pytest.approx(0.5))
    clock.t += decision.wait_s
    assert limiter.try_acquire(limits, "b", lease_s=10).allowed


def test_acquire_sleeps_through_a_short_wait(limiter: RateLimiter, clock: Clock) -> None:
    limits = rate(4, 1)
    limiter.try_acquire(limits, "a", lease_s=10)
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock.t += s

    assert limiter.acquire(limits, "b", lease_s=10, max_sleep_s=1.0, sleep=sleep).allowed
    assert sum(sleeps) == pytest.approx(0.25)


def test_acquire_returns_a_wait_longer_than_it_may_sleep(limiter: RateLimiter, clock: Clock) -> None:
    limiter.pause(1, 5)
    sleeps: list[float] = []
    decision = limiter.acquire(rate(10, 10), "b", lease_s=10, max_sleep_s=1.0, sleep=sleeps.append)
    assert (decision.allowed, decision.wait_s, sleeps) == (False, pytest.approx(5.0), [])


def slots(n: int) -> Limits:
    return Limits(connection_id=7, rate_per_s=None, burst=1, max_concurrency=n)


def test_concurrency_is_capped_at_max_slots(limiter: RateLimiter) -> None:
    got = [limiter.try_acquire(slots(2), f"h{i}", lease_s=30) for i in range(3)]
    assert [d.allowed for d in got] == [True, True, False]
    assert got[2].reason == "concurrency"


def test_a_released_slot_can_be_taken_again(limiter: RateLimiter) -> None:
    limiter.try_acquire(slots(1), "a", lease_s=30)
    limiter.release(7, "a")
    assert limiter.try_acquire(slots(1), "b", lease_s=30).allowed


def test_a_dead_holders_slot_comes_back_when_its_lease_passes(limiter: RateLimiter, clock: Clock) -> None:
    limiter.try_acquire(slots(1), "dead", lease_s=30)
    clock.t += 29
    assert not limiter.try_acquire(slots(1), "b", lease_s=30).allowed
    clock.t += 2
    assert limiter.try_acquire(slots(1), "b", lease_s=30).allowed
    assert limiter.holders(7) == ["b"]


def test_a_holder_asking_again_keeps_its_one_slot(limiter: RateLimiter) -> None:
    assert limiter.try_acquire(slots(1), "a", lease_s=30).allowed
    assert limiter.try_acquire(slots(1), "a", lease_s=30).allowed
    assert limiter.holders(7) == ["a"]


def test_a_request_waiting_for_the_rate_holds_no_slot(limiter: RateLimiter) -> None:
    limits = Limits(connection_id=3, rate_per_s=1, burst=1, max_concurrency=5)
    assert limiter.try_acquire(limits, "a", lease_s=30).allowed
    assert not limiter.try_acquire(limits, "b", lease_s=30).allowed
    assert limiter.holders(3) == ["a"]


def test_a_holder_told_to_wait_gives_its_slot_back(limiter: RateLimiter, clock: Clock) -> None:
    limits = Limits(connection_id=4, rate_per_s=1, burst=1, max_concurrency=1)
    assert limiter.try_acquire(limits, "batch", lease_s=30).allowed
    assert limiter.holders(4) == ["batch"]
    again = limiter.try_acquire(limits, "batch", lease_s=30)  # its next request: the rate says wait
    assert (again.allowed, again.reason) == (False, "rate")
    assert limiter.holders(4) == []
    assert limiter.try_acquire(slots(1), "other", lease_s=30).allowed  # connection 7: unrelated
    clock.t += 1
    assert limiter.try_acquire(limits, "batch", lease_s=30).allowed
    assert limiter.holders(4) == ["batch"]


def test_a_pause_stops_every_holder_until_it_ends(limiter: RateLimiter, clock: Clock) -> None:
    limits = rate(100, 100)
    limiter.pause(1, 7)
    decision = limiter.try_acquire(limits, "a", lease_s=10)
    assert (decision.allowed, decision.reason, decision.wait_s) == (False, "pause", pytest.approx(7))
    clock.t += 7.01
    assert limiter.try_acquire(limits, "a", lease_s=10).allowed


def test_a_pause_is_shared_by_limiters_on_the_same_redis(clock: Clock) -> None:
    server = fakeredis.FakeServer()
    one = RateLimiter(fakeredis.FakeRedis(server=server), clock=clock)
    two = RateLimiter(fakeredis.FakeRedis(server=server), clock=clock)
    one.pause(1, 5)
    assert two.paused_for(1) == pytest.approx(5)
    assert two.try_acquire(rate(100, 100), "x", lease_s=10).reason == "pause"


def test_a_shorter_pause_never_shortens_a_longer_one(limiter: RateLimiter) -> None:
    limiter.pause(1, 30)
    limiter.pause(1, 2)
    assert limiter.paused_for(1) == pytest.approx(30)


def test_pauses_are_per_connection(limiter: RateLimiter) -> None:
    limiter.pause(1, 30)
    other = Limits(connection_id=2, rate_per_s=None, burst=1, max_concurrency=0)
    assert limiter.try_acquire(other, "x", lease_s=10).allowed
