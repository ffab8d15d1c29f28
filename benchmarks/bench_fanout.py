"""Benchmark 2: a fan-out of 10,000 parameter sets, trigger to last invocation recorded, against the
emulator's fast mode, compared with a plain httpx loop of the same concurrency on the same server.

Real components: PostgreSQL (a throwaway database), a private redis-server, the emulator, and a
``celery worker`` child process with C prefork processes. The pipeline does per invoke what the
plain loop does not: claim in the database, the fleet-wide limiter in Redis, the spool file with its
SHA-256, the result store, the outcome and the run's counters.

The machine is shared and its speed drifts by 10-20% from one minute to the next, so the two are
measured in interleaved rounds (plain loop, then pipeline, ``ROUNDS`` times) and judged on the median
of the rounds' ratios; every round is printed.

    .venv/bin/python -m benchmarks fanout          # N=10000, C=4, 3 rounds
    SCRIPTCRON_BENCH_FANOUT_N=2000 SCRIPTCRON_BENCH_FANOUT_ROUNDS=1 .venv/bin/python -m benchmarks fanout
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from app import constants
from app.models import Invocation, RunStatus
from tests.support.emulator import EmulatorServer
from tests.support.services import RedisServer, postgres_database
from tests.worker.worker_stack import Stack

TARGET_RATIO = 0.5
SCRIPT = 'from(bucket: "b") |> range(start: -1h)'


def plain_loop(emulator: EmulatorServer, script_id: str, n: int, concurrency: int) -> float:
    """Invokes per second of a plain httpx loop: ``concurrency`` threads, one pooled client each."""
    url = f"{emulator.url}/api/v2/scripts/{script_id}/invoke"
    headers = {"Authorization": f"Token {emulator.token}", "Accept": "application/csv"}

    def share(count: int) -> int:
        got = 0
        with httpx.Client(timeout=30) as client:
            for i in range(count):
                with client.stream("POST", url, json={"params": {"n": i}}, headers=headers) as response:
                    response.raise_for_status()
                    for _chunk in response.iter_bytes():
                        pass
                got += 1
        return got

    shares = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(share, shares))
    return done / (time.perf_counter() - started)


def pipeline(stack: Stack, script_id: str, n: int, concurrency: int) -> tuple[float, float]:
    """(invocations per second trigger -> last recorded, seconds to insert and enqueue every invocation)."""
    schedule_id = stack.add_schedule(script_id, n=n, max_concurrency=concurrency * 2)
    run_id = stack.add_run(schedule_id)
    started = datetime.now(UTC)
    stack.enqueuer().send(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, [run_id])
    run = stack.wait_for_run(run_id, timeout_s=1800)
    if run.status is not RunStatus.SUCCEEDED:
        raise SystemExit(f"benchmark run ended {run.status}: {run.failed} failed")
    with Session(stack.engine) as session:
        last_done, last_queued = session.execute(
            select(func.max(Invocation.finished_at), func.max(Invocation.enqueued_at)).where(  # type: ignore[arg-type]
                Invocation.run_id == run_id  # type: ignore[arg-type]
            )
        ).one()
    elapsed = (last_done - started).total_seconds()
    return n / elapsed, (last_queued - started).total_seconds()


def main() -> None:
    n = int(os.environ.get("SCRIPTCRON_BENCH_FANOUT_N", "10000"))
    concurrency = int(os.environ.get("SCRIPTCRON_BENCH_FANOUT_C", "4"))
    rounds = int(os.environ.get("SCRIPTCRON_BENCH_FANOUT_ROUNDS", "3"))
    results: list[tuple[float, float, float]] = []  # (plain rate, pipeline rate, enqueue seconds)
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        workdir = Path(tmp)
        redis_server = RedisServer(workdir / "redis")
        redis_server.start()
        emulator = EmulatorServer(log_path=workdir / "emulator.log", extra_args=["--fast"]).start()
        try:
            # the default lease margin (the test stack's short one would also shorten a batch's budget)
            with (
                postgres_database() as url,
                Stack(
                    url, redis_server.url, emulator, workdir, lease_margin_s=constants.INVOKE_LEASE_MARGIN_S
                ) as stack,
            ):
                script_id = emulator.create_script("bench", SCRIPT)
                stack.start_worker(concurrency=concurrency, name="bench")
                pipeline(stack, script_id, 50, concurrency)  # worker up, pools warm
                for _ in range(rounds):
                    plain = plain_loop(emulator, script_id, n, concurrency)
                    rate, enqueue_s = pipeline(stack, script_id, n, concurrency)
                    results.append((plain, rate, enqueue_s))
        finally:
            emulator.stop()
            redis_server.stop()
    print(f"fan-out of {n} param sets, {concurrency} worker processes vs {concurrency} plain httpx threads")
    for number, (plain, rate, enqueue_s) in enumerate(results, 1):
        print(
            f"  round {number}: pipeline {rate:.0f}/s (trigger -> last invocation recorded), plain httpx"
            f" loop {plain:.0f}/s, ratio {rate / plain:.2f}; all enqueued {enqueue_s:.2f} s after the trigger"
        )
    ratio = statistics.median(rate / plain for plain, rate, _ in results)
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(
        f"  median ratio pipeline/plain over {len(results)} rounds = {ratio:.2f}"
        f" (target >= {TARGET_RATIO}): {verdict}"
    )
