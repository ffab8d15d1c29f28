"""Benchmark 4 of issue 5 (run by ``bench_beat``): lag from a schedule's time to its invoke's start."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from app import constants
from app.crypto import encrypt_secret
from app.models import Connection, Invocation, Run, Schedule
from tests.support.emulator import EmulatorServer
from tests.support.services import scriptcron_cmd
from tests.worker.worker_stack import Stack

SCHEDULES = int(os.environ.get("BENCH_BEAT_LAG_SCHEDULES", "1000"))
PERIOD_S = 60
WORKER_PROCESSES = 4
BASELINE_RUNS = 30
LAG_TARGET_S = 1.0
SCRIPT = 'from(bucket: "b") |> range(start: -1h)'


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _started(stack: Stack, run_id: int, timeout_s: float = 60.0) -> datetime:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(stack.engine) as session:
            started = session.exec(
                sa.select(Invocation.started_at).where(Invocation.run_id == run_id)  # type: ignore[arg-type]
            ).first()
        if started is not None and started[0] is not None:
            return started[0]  # type: ignore[no-any-return]
        time.sleep(0.01)
    raise SystemExit(f"run {run_id}: no invocation started in {timeout_s} s")


def wait_for_text(path: Path, text: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"{path.name}: no {text!r} after {timeout_s} s")


def baseline(stack: Stack, script_id: str) -> list[float]:
    """Seconds from a run created by hand (fire_run sent at once) to its invocation's start."""
    schedule_id = stack.add_schedule(script_id, n=1)
    enqueuer = stack.enqueuer()
    lags = []
    for _ in range(BASELINE_RUNS):
        run_id = stack.add_run(schedule_id)
        with Session(stack.engine) as session:
            run = session.get(Run, run_id)
            assert run is not None
            created = run.created_at
        enqueuer.send(constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, [run_id])
        lags.append((_started(stack, run_id) - created).total_seconds())
    return lags


def add_schedules(stack: Stack, emulator: EmulatorServer, script_id: str, first_at: datetime) -> None:
    """SCHEDULES schedules every PERIOD_S, their first fires spread evenly over one period."""
    spacing = timedelta(seconds=PERIOD_S / SCHEDULES)
    with Session(stack.engine) as session:
        conn = Connection(
            name="lag", url=emulator.url, token_encrypted=encrypt_secret(emulator.token), max_concurrency=64
        )
        session.add(conn)
        session.flush()
        assert conn.id is not None
        for i in range(SCHEDULES):
            start_at = first_at + i * spacing
            session.add(
                Schedule(
                    name=f"lag-{i}",
                    connection_id=conn.id,
                    script_id=script_id,
                    interval_s=PERIOD_S,
                    start_at=start_at,
                    next_fire_at=start_at,
                    params=[{"i": i}],
                )
            )
        session.commit()


def lags_of_first_round(stack: Stack, until: datetime) -> tuple[list[float], list[float]]:
    """(scheduled -> invoke start, scheduled -> run created) for every run scheduled before ``until``."""
    stmt = (
        sa.select(Run.scheduled_for, Run.created_at, Invocation.started_at)
        .join(Invocation, Invocation.run_id == Run.id)  # type: ignore[arg-type]
        .join(Schedule, Schedule.id == Run.schedule_id)  # type: ignore[arg-type]
        .where(
            Schedule.name.startswith("lag-"),  # type: ignore[attr-defined]
            Run.scheduled_for < until,
            Invocation.started_at.is_not(None),  # type: ignore[union-attr]
        )
    )
    with Session(stack.engine) as session:
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
    total = [(started - scheduled).total_seconds() for scheduled, _created, started in rows]
    beat = [(created - scheduled).total_seconds() for scheduled, created, _started in rows]
    return total, beat


def measure_lag(pg_url: str, redis_url: str, workdir: Path) -> None:
    emulator = EmulatorServer(log_path=workdir / "emulator.log", extra_args=["--fast"]).start()
    beat: subprocess.Popen[bytes] | None = None
    try:
        with Stack(pg_url, redis_url, emulator, workdir) as stack:
            script_id = emulator.create_script("lag", SCRIPT)
            stack.start_worker(concurrency=WORKER_PROCESSES, name="lag")
            baseline(stack, script_id)  # warm up: worker processes, pools, the emulator
            direct = baseline(stack, script_id)
            env = {
                **os.environ,
                **stack.env(),
                "SCRIPTCRON_BEAT_TICK_S": str(constants.BEAT_TICK_S),  # the defaults, not the test stack's
                "SCRIPTCRON_SWEEP_REQUEUE_AFTER_S": str(constants.DEFAULT_SWEEP_REQUEUE_AFTER_S),
                "SCRIPTCRON_METRICS_PORT": "0",
            }
            with open(workdir / "beat.log", "wb") as log:
                beat = subprocess.Popen(scriptcron_cmd("beat"), env=env, stdout=log, stderr=subprocess.STDOUT)
            wait_for_text(workdir / "beat.log", "beat: Starting")
            first_at = datetime.now(UTC) + timedelta(seconds=5)
            add_schedules(stack, emulator, script_id, first_at)
            until = first_at + timedelta(seconds=PERIOD_S)
            deadline = time.monotonic() + PERIOD_S + 60
            total: list[float] = []
            while time.monotonic() < deadline:
                time.sleep(2)
                if datetime.now(UTC) < until:
                    continue
                total, beat_part = lags_of_first_round(stack, until)
                if len(total) >= SCHEDULES:
                    break
    finally:
        if beat is not None:
            beat.terminate()
            beat.wait(30)
        emulator.stop()
    if len(total) < SCHEDULES:
        print(f"  only {len(total)} of {SCHEDULES} first-round invocations started in time")
    if not total:
        return
    p50, p99 = statistics.median(total), percentile(total, 0.99)
    base50, base99 = statistics.median(direct), percentile(direct, 0.99)
    print(
        f"  {SCHEDULES} schedules every {PERIOD_S} s, {WORKER_PROCESSES} worker processes, emulator fast mode"
    )
    print(f"  baseline (run sent by hand -> invoke start): p50 {base50 * 1000:.0f} ms,", end="")
    print(f" p99 {base99 * 1000:.0f} ms")
    print(
        f"  beat's part (scheduled -> run created): p50 {statistics.median(beat_part) * 1000:.0f} ms,"
        f" p99 {percentile(beat_part, 0.99) * 1000:.0f} ms"
    )
    print(
        f"  scheduled -> invoke start over {len(total)} fires: p50 {p50 * 1000:.0f} ms,"
        f" p99 {p99 * 1000:.0f} ms, max {max(total) * 1000:.0f} ms; p99 / baseline p99 = {p99 / base99:.1f}"
    )
    verdict = "MET" if p99 < LAG_TARGET_S else "MISSED"
    print(f"  target p99 < {LAG_TARGET_S:.0f} s: {p99:.3f} s {verdict}")
