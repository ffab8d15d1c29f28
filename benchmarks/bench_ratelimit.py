"""Benchmark 3: the fleet-wide rate limit. R requests/s configured on a connection, 4 worker processes
(real ``celery worker`` children sharing one Redis): the achieved rate is within 5% of R, and no
one-second window holds more than the burst.

Request times are each invocation's ``started_at``: the moment the limiter let it through (the
pipeline moves ``started_at`` there after a wait). The baseline, measured in the same run, is the
same pipeline on a connection with no rate limit, which shows that the limiter is what binds.

    .venv/bin/python -m benchmarks ratelimit                   # R=5/s, burst 8, 30 s of requests
    SCRIPTCRON_BENCH_RATE=20 SCRIPTCRON_BENCH_BURST=25 .venv/bin/python -m benchmarks ratelimit
"""

from __future__ import annotations

import itertools
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from app.models import Invocation, RunStatus
from tests.support.emulator import EmulatorServer
from tests.support.services import RedisServer, postgres_database
from tests.worker.worker_stack import Stack

WORKER_PROCESSES = 4
RATE_TOLERANCE = 0.05
SCRIPT = 'from(bucket: "b") |> range(start: -1h)'


def start_times(stack: Stack, run_id: int) -> list[float]:
    with Session(stack.engine) as session:
        stamps: list[datetime] = list(
            session.execute(select(Invocation.started_at).where(Invocation.run_id == run_id)).scalars()  # type: ignore[arg-type]
        )
    first = min(stamps)
    return sorted((t - first).total_seconds() for t in stamps)


def run_once(stack: Stack, script_id: str, n: int, **limits: object) -> list[float]:
    run_id = stack.add_run(stack.add_schedule(script_id, n=n, max_concurrency=WORKER_PROCESSES * 2, **limits))
    stack.fire(run_id)
    run = stack.wait_for_run(run_id, timeout_s=600)
    if run.status is not RunStatus.SUCCEEDED:
        raise SystemExit(f"benchmark run ended {run.status}: {run.failed} failed")
    return start_times(stack, run_id)


def busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window [t, t + 1) starting at a request."""
    most, j = 0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        most = max(most, j - i)
    return most


def main() -> None:
    rate = float(os.environ.get("SCRIPTCRON_BENCH_RATE", "5"))
    burst = int(os.environ.get("SCRIPTCRON_BENCH_BURST", "8"))
    seconds = float(os.environ.get("SCRIPTCRON_BENCH_SECONDS", "30"))
    n = int(rate * seconds)
    with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp:
        workdir = Path(tmp)
        redis_server = RedisServer(workdir / "redis")
        redis_server.start()
        emulator = EmulatorServer(log_path=workdir / "emulator.log", extra_args=["--fast"]).start()
        try:
            with postgres_database() as url, Stack(url, redis_server.url, emulator, workdir) as stack:
                script_id = emulator.create_script("bench", SCRIPT)
                stack.start_worker(concurrency=WORKER_PROCESSES, name="rate")
                with stack.beat():
                    run_once(stack, script_id, 20)  # the worker is up and its pools are warm
                    free = run_once(stack, script_id, n)
                    limited = run_once(stack, script_id, n, rate_per_s=rate, burst=burst)
        finally:
            emulator.stop()
            redis_server.stop()
    free_rate = (len(free) - 1) / free[-1]
    achieved = (len(limited) - 1) / limited[-1]
    peak = busiest_second(limited)
    print(f"rate limit R = {rate:g}/s, burst {burst}, {WORKER_PROCESSES} worker processes, {n} requests")
    print(f"  baseline without a limit: {free_rate:.1f} requests/s = {free_rate / rate:.1f} x R")
    deviation = achieved / rate - 1
    verdict = "met" if abs(deviation) <= RATE_TOLERANCE else "MISSED"
    print(f"  achieved {achieved:.2f} requests/s = {achieved / rate:.3f} x R (target within 5%): {verdict}")
    gaps = sorted(((b - a), a) for a, b in itertools.pairwise(limited))[-5:]
    print("  longest gaps between requests: " + ", ".join(f"{g:.2f} s at {t:.1f} s" for g, t in gaps))
    verdict = "met" if peak <= burst else "MISSED"
    print(
        f"  busiest one-second window: {peak} requests = {peak / burst:.2f} x burst (target <= 1): {verdict}"
    )
