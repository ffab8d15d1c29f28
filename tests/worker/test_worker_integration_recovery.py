"""Real worker processes survive what production throws at them: a worker killed with SIGKILL in the
middle of an invoke, and the Redis server (broker and limiter) restarted in the middle of a run.
The beat's loop (its sweep) runs in a thread, with a short lease and a short sweep age.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.models import InvocationStatus, RunStatus
from tests.support.emulator import EmulatorServer
from tests.support.services import RedisServer, postgres_database
from tests.worker.worker_stack import Stack, truncate

pytestmark = pytest.mark.integration

SCRIPT = 'from(bucket: "b") |> range(start: -1h)'


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def stack(database_url: str, redis_url: str, emulator: EmulatorServer, tmp_path: Path) -> Iterator[Stack]:
    with Stack(
        database_url, redis_url, emulator, tmp_path, lease_margin_s=1.0, sweep_requeue_after_s=3.0
    ) as value:
        truncate(value.engine)
        yield value


def test_an_invoke_cut_by_sigkill_is_completed_by_another_worker_once(stack: Stack) -> None:
    script_id = stack.emulator.create_script("slow", SCRIPT)
    stack.emulator.set_faults({"fast": True, "latency_ms": 4000})
    run_id = stack.add_run(stack.add_schedule(script_id, n=1, timeout_s=6))  # lease: 6 s + 1 s
    doomed = stack.start_worker(concurrency=1, name="doomed")
    with stack.beat():
        stack.fire(run_id)
        (inv,) = stack.invocations(run_id)
        assert inv.id is not None
        stack.wait_for_status(inv.id, InvocationStatus.RUNNING, timeout_s=60)
        time.sleep(0.5)  # inside the 4 s invoke
        doomed.kill()
        stack.emulator.set_faults({"fast": True})
        stack.start_worker(concurrency=1, name="survivor")
        run = stack.wait_for_run(run_id, timeout_s=60)
    (inv,) = stack.invocations(run_id)
    assert (run.status, run.succeeded, run.failed) == (RunStatus.SUCCEEDED, 1, 0)
    assert (inv.status, inv.attempts) == (InvocationStatus.SUCCEEDED, 2)
    assert stack.manifest_deliveries(run_id) == 1


def test_a_batch_cut_by_sigkill_is_completed_by_another_worker_each_invocation_once(stack: Stack) -> None:
    script_id = stack.emulator.create_script("batched", SCRIPT)
    stack.emulator.set_faults({"fast": True, "latency_ms": 60})
    n = 40  # 8 messages of 5 invocations each
    run_id = stack.add_run(stack.add_schedule(script_id, n=n, timeout_s=3))  # lease: 3 s + 1 s
    doomed = stack.start_worker(concurrency=1, name="doomed")

    def running() -> int:
        return sum(r.status is InvocationStatus.RUNNING for r in stack.invocations(run_id))

    with stack.beat():
        stack.fire(run_id)
        deadline = time.monotonic() + 60
        while not (stack.run(run_id).succeeded >= 5 and running() >= 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        doomed.kill()  # mid-batch: some ended and not yet recorded, one in flight, some not started
        assert running() >= 1
        stack.start_worker(concurrency=2, name="survivor")
        run = stack.wait_for_run(run_id, timeout_s=90)
    rows = stack.invocations(run_id)
    assert (run.status, run.succeeded, run.failed) == (RunStatus.SUCCEEDED, n, 0)
    assert {r.status for r in rows} == {InvocationStatus.SUCCEEDED}
    assert len({r.result_location for r in rows}) == n
    assert stack.manifest_deliveries(run_id) == 1


def test_a_run_completes_when_redis_restarts_in_the_middle(stack: Stack, redis_server: RedisServer) -> None:
    script_id = stack.emulator.create_script("steady", SCRIPT)
    stack.emulator.set_faults({"fast": True, "latency_ms": 150})
    run_id = stack.add_run(stack.add_schedule(script_id, n=30, max_attempts=10, backoff_base_s=0.2))
    stack.start_worker(concurrency=2)
    with stack.beat():
        stack.fire(run_id)
        deadline = time.monotonic() + 60
        while stack.run(run_id).succeeded < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stack.run(run_id).status is RunStatus.RUNNING
        redis_server.restart()  # no persistence: every queued message and limiter key is gone
        run = stack.wait_for_run(run_id, timeout_s=90)
    rows = stack.invocations(run_id)
    assert (run.status, run.succeeded, run.failed) == (RunStatus.SUCCEEDED, 30, 0)
    assert {r.status for r in rows} == {InvocationStatus.SUCCEEDED}
    assert stack.manifest_deliveries(run_id) == 1
