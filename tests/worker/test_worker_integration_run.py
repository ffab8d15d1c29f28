"""Real worker processes on real PostgreSQL, Redis and the emulator: runs complete, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.models import InvocationStatus, RunStatus
from tests.support.emulator import EmulatorServer
from tests.support.services import postgres_database
from tests.worker.worker_stack import Stack, truncate

pytestmark = pytest.mark.integration

SCRIPT = 'from(bucket: "b") |> range(start: -1h)'


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def stack(database_url: str, redis_url: str, emulator: EmulatorServer, tmp_path: Path) -> Iterator[Stack]:
    with Stack(database_url, redis_url, emulator, tmp_path) as value:
        truncate(value.engine)
        yield value


def test_a_run_fanned_out_over_two_workers_ends_once_with_every_count_right(stack: Stack) -> None:
    stack.emulator.set_faults({"fast": True, "latency_ms": 5, "latency_max_ms": 40, "seed": 3})
    script_id = stack.emulator.create_script("fast", SCRIPT)
    run_id = stack.add_run(stack.add_schedule(script_id, n=60, max_concurrency=16))
    stack.start_worker(concurrency=3, name="a")
    stack.start_worker(concurrency=3, name="b")
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
    stack.start_worker(concurrency=1)
    stack.fire(run_id)
    run = stack.wait_for_run(run_id)
    (inv,) = stack.invocations(run_id)
    assert (run.status, run.failed) == (RunStatus.FAILED, 1)
    assert (inv.status, inv.attempts, inv.last_http_status) == (InvocationStatus.FAILED, 1, 404)
    assert "not found" in (inv.error or "")
