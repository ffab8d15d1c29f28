"""The limiter's Lua script on a real Redis server, shared by several clients (as by several workers)."""

from __future__ import annotations

import pytest
import redis

from worker.ratelimit import Limits, RateLimiter

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.t = 2_000_000.0

    def __call__(self) -> float:
        return self.t


def fleet(redis_url: str, clock: Clock, n: int = 4) -> list[RateLimiter]:
    return [RateLimiter(redis.Redis.from_url(redis_url), clock=clock) for _ in range(n)]


def test_the_rate_holds_across_clients(redis_url: str) -> None:
    clock = Clock()
    limiters = fleet(redis_url, clock)
    limits = Limits(connection_id=1, rate_per_s=16, burst=16, max_concurrency=0)
    admitted = 0
    for step in range(2560):  # 10 s in steps of 1/256 s (exact in binary), the clients taking turns
        if limiters[step % 4].try_acquire(limits, f"h{step}", lease_s=10).allowed:
            admitted += 1
        clock.t += 1 / 256
    assert admitted == 160


def test_concurrency_slots_are_shared_and_leased(redis_url: str) -> None:
    clock = Clock()
    one, two = fleet(redis_url, clock, 2)
    limits = Limits(connection_id=2, rate_per_s=None, burst=1, max_concurrency=1)
    assert one.try_acquire(limits, "worker-one", lease_s=5).allowed
    assert not two.try_acquire(limits, "worker-two", lease_s=5).allowed
    clock.t += 5.5  # worker one died without releasing
    assert two.try_acquire(limits, "worker-two", lease_s=5).allowed


def test_a_429_pause_reaches_every_client(redis_url: str) -> None:
    clock = Clock()
    one, two = fleet(redis_url, clock, 2)
    one.pause(3, 12)
    decision = two.try_acquire(Limits(3, None, 1, 0), "x", lease_s=5)
    assert (decision.allowed, decision.reason, decision.wait_s) == (False, "pause", pytest.approx(12))


def test_the_script_is_loaded_again_after_redis_forgets_it(redis_url: str) -> None:
    clock = Clock()
    (limiter,) = fleet(redis_url, clock, 1)
    limits = Limits(4, None, 1, 2)
    assert limiter.try_acquire(limits, "a", lease_s=5).allowed
    redis.Redis.from_url(redis_url).script_flush()
    assert limiter.try_acquire(limits, "b", lease_s=5).allowed


def test_without_an_injected_clock_the_redis_server_clock_decides(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(client)
    seconds, micros = client.time()
    decision = limiter.try_acquire(Limits(5, 1, 1, 0), "a", lease_s=5)
    assert decision.allowed
    assert decision.at is not None
    assert abs(decision.at - (seconds + micros / 1e6)) < 5
    assert not limiter.try_acquire(
        Limits(5, 1, 1, 0), "b", lease_s=5
    ).allowed  # 1/s: the next is a second away
