"""Real worker processes on real PostgreSQL, Redis and the emulator: runs complete exactly once, with
correct counts, through injected faults; permanent errors end at once with the server's message.

One stack per module (database, emulator, two workers, a beat loop); each test its own run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from app.models import InvocationStatus, RunStatus
from tests.support.emulator import EmulatorServer
from tests.support.services import RedisServer, postgres_database, unavailable
from tests.worker.worker_stack import Stack

pytestmark = pytest.mark.integration

SCRIPT = 'from(bucket: "b") |> range(start: -1h)'


@pytest.fixture(scope="module")
def stack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("worker-run")
    redis.Redis.from_url(redis_server.url).flushall()
    try:
        emulator = EmulatorServer(log_path=workdir / "emulator.log").start()
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"cannot start the emulator: {exc}")
    try:
        with postgres_database() as url, Stack(url, redis_server.url, emulator, workdir) as value:
            value.start_worker(concurrency=2, name="a")
            value.start_worker(concurrency=2, name="b")
            with value.beat():
                yield value
    finally:
        emulator.stop()


@pytest.fixture(autouse=True)
def clear_faults(stack: Stack) -> None:
    stack.emulator.set_faults({})


def test_a_run_over_several_worker_processes_ends_once_with_every_count_right(stack: Stack) -> None:
    stack.emulator.set_faults({"fast": True, "latency_ms": 5, "latency_max_ms": 40, "seed": 3})
    script_id = stack.emulator.create_script("fast", SCRIPT)
    run_id = stack.add_run(stack.add_schedule(script_id, n=60, max_concurrency=16))
    stack.fire(run_id)
    run = stack.wait_for_run(run_id)
    rows = stack.invocations(run_id)
    assert (run.status, run.total, run.succeeded, run.failed) == (RunStatus.SUCCEEDED, 60, 60, 0)
    assert {r.status for r in rows} == {InvocationStatus.SUCCEEDED}
    assert {r.attempts for r in rows} == {1}
    assert all(r.result_rows == 3 and r.result_sha256 for r in rows)
    assert stack.manifest_deliveries(run_id) == 1  # the run ended exactly once


def test_a_script_that_does_not_exist_fails_after_one_attempt_with_the_servers_message(stack: Stack) -> None:
    run_id = stack.add_run(stack.add_schedule("0000000000000000", n=1, max_attempts=5))
    stack.fire(run_id)
    run = stack.wait_for_run(run_id)
    (inv,) = stack.invocations(run_id)
    assert (run.status, run.failed) == (RunStatus.FAILED, 1)
    assert (inv.status, inv.attempts, inv.last_http_status) == (InvocationStatus.FAILED, 1, 404)
    assert "not found" in (inv.error or "")


def test_every_invocation_succeeds_through_429s_500s_and_dropped_connections(stack: Stack) -> None:
    """30% of calls fail (10% 429 with Retry-After 1 s, 10% 500, ~10% dropped mid-body)."""
    script_id = stack.emulator.create_script("flaky", SCRIPT)
    base = {"fast": True, "rate429": 0.1, "retry_after_s": 1, "rate500": 0.1}
    dropping = {**base, "drop_after_bytes": 60}
    run_id = stack.add_run(
        stack.add_schedule(script_id, n=40, max_attempts=10, backoff_base_s=0.1, backoff_cap_s=0.5)
    )
    stack.emulator.set_faults(base)
    stack.fire(run_id)
    waits_after_429: list[float] = []
    deadline = time.monotonic() + 90
    tick = 0
    while stack.run(run_id).status not in RunStatus.TERMINAL and time.monotonic() < deadline:
        tick += 1
        if tick % 10 in (0, 1):  # connections dropped mid-body one tick in ten
            stack.emulator.set_faults(dropping if tick % 10 == 0 else base)
        for inv in stack.invocations(run_id):
            if inv.status is InvocationStatus.WAITING and inv.last_http_status == 429:
                assert inv.next_attempt_at is not None
                assert inv.started_at is not None
                waits_after_429.append((inv.next_attempt_at - inv.started_at).total_seconds())
        time.sleep(0.05)
    stack.emulator.set_faults({})
    run = stack.wait_for_run(run_id, timeout_s=10)
    rows = stack.invocations(run_id)
    assert (run.status, run.succeeded) == (RunStatus.SUCCEEDED, 40)
    assert all(1 <= r.attempts <= 10 for r in rows)
    assert sum(r.attempts for r in rows) > 40  # retries happened and were recorded
    assert waits_after_429, "no 429 was seen waiting"
    assert min(waits_after_429) >= 1.0  # the retry came no earlier than Retry-After


def test_an_invocation_failing_every_attempt_fails_with_its_last_error(stack: Stack) -> None:
    script_id = stack.emulator.create_script("always-500", SCRIPT)
    stack.emulator.set_faults({"rate500": 1.0})
    run_id = stack.add_run(
        stack.add_schedule(script_id, n=1, max_attempts=2, backoff_base_s=0.1, backoff_cap_s=0.2)
    )
    stack.fire(run_id)
    run = stack.wait_for_run(run_id, timeout_s=30)
    (inv,) = stack.invocations(run_id)
    assert (run.status, inv.attempts, inv.last_http_status) == (RunStatus.FAILED, 2, 500)
    assert "internal error" in (inv.error or "")
