"""A real stack for the worker's integration tests and benchmarks: PostgreSQL, Redis, the emulator,
``celery worker`` child processes, and a beat loop (the beat's own tick function) in a thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from app.crypto import encrypt_secret
from app.db import dispose_engines, get_engine
from app.models import Connection, Delivery, Invocation, InvocationStatus, Run, RunStatus, Schedule
from app.settings import Settings, override_settings
from tests.support.emulator import EmulatorServer
from worker.celery_app import create_celery_app
from worker.enqueuer import CeleryEnqueuer

ROOT = Path(__file__).resolve().parents[2]
TABLES = "delivery, invocation, run, schedule, connection"


@dataclass
class WorkerProcess:
    """``celery -A worker.celery_app worker`` in its own process group (so SIGKILL takes the pool too)."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: no shutdown, no ack, no requeue."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """Settings overridden for this process, a Celery app on the test broker, workers, a beat thread."""

    database_url: str
    redis_url: str
    emulator: EmulatorServer
    workdir: Path
    lease_margin_s: float = 1.0
    sweep_requeue_after_s: float = 3.0
    key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    workers: list[WorkerProcess] = field(default_factory=list)
    settings: Settings | None = None
    app: Celery | None = None
    _override: Any = None

    def env(self) -> dict[str, str]:
        return {
            "SCRIPTCRON_DATABASE_URL": self.database_url,
            "SCRIPTCRON_BROKER_URL": self.redis_url,
            "SCRIPTCRON_DATA_DIR": str(self.workdir),
            "SCRIPTCRON_RESULT_STORE_URL": f"file://{self.workdir / 'results'}",
            "SCRIPTCRON_ENCRYPTION_KEY": self.key,
            "SCRIPTCRON_INVOKE_LEASE_MARGIN_S": str(self.lease_margin_s),
            "SCRIPTCRON_SWEEP_REQUEUE_AFTER_S": str(self.sweep_requeue_after_s),
            "SCRIPTCRON_BEAT_TICK_S": "0.2",
            "SCRIPTCRON_LOG_LEVEL": "INFO",
        }

    def __enter__(self) -> Stack:
        self._override = override_settings(
            database_url=self.database_url,
            broker_url=self.redis_url,
            data_dir=str(self.workdir),
            result_store_url=f"file://{self.workdir / 'results'}",
            encryption_key=self.key,
            invoke_lease_margin_s=self.lease_margin_s,
            sweep_requeue_after_s=self.sweep_requeue_after_s,
            beat_tick_s=0.2,
        )
        self.settings = self._override.__enter__()
        SQLModel.metadata.create_all(get_engine())
        self.app = create_celery_app()
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        if self.app is not None:
            self.app.close()
        dispose_engines()
        self._override.__exit__(None, None, None)

    @property
    def engine(self) -> Engine:
        return get_engine()

    def enqueuer(self) -> CeleryEnqueuer:
        assert self.app is not None
        return CeleryEnqueuer(self.app)

    def start_worker(self, *, concurrency: int = 2, name: str = "w1", pool: str = "prefork") -> WorkerProcess:
        log_path = self.workdir / f"worker-{name}-{len(self.workers)}.log"
        out = open(log_path, "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.celery_app",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}-{len(self.workers)}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env={**os.environ, **self.env()},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        out.close()
        worker = WorkerProcess(proc, log_path)
        self.workers.append(worker)
        return worker

    @contextmanager
    def beat(self, every_s: float = 0.2) -> Iterator[None]:
        """The beat's tick (schedules, due WAITING rows, the sweep) every ``every_s`` in a thread."""
        from worker.beat import beat_tick

        stop = threading.Event()
        enqueuer = self.enqueuer()
        settings = self.settings
        assert settings is not None

        def loop() -> None:
            while not stop.is_set():
                try:
                    beat_tick(self.engine, enqueuer, datetime.now(UTC), settings)
                except Exception as exc:  # a Redis restart mid-tick: the next tick goes on
                    print(f"beat tick failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                stop.wait(every_s)

        thread = threading.Thread(target=loop, name="test-beat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(10)

    def add_schedule(self, script_id: str, *, n: int, **fields: Any) -> int:
        conn_fields = {k: fields.pop(k) for k in ("rate_per_s", "burst", "max_concurrency") if k in fields}
        with Session(self.engine) as session:
            conn = Connection(
                name=f"emulator-{time.monotonic_ns()}",
                url=self.emulator.url,
                token_encrypted=encrypt_secret(self.emulator.token),
                **conn_fields,
            )
            session.add(conn)
            session.flush()
            schedule = Schedule(
                name=f"s-{time.monotonic_ns()}",
                connection_id=conn.id,  # type: ignore[arg-type]
                script_id=script_id,
                interval_s=3600,
                enabled=False,
                param_matrix={"n": list(range(n))},
                **fields,
            )
            session.add(schedule)
            session.commit()
            assert schedule.id is not None
            return schedule.id

    def add_run(self, schedule_id: int) -> int:
        with Session(self.engine) as session:
            now = datetime.now(UTC)
            run = Run(schedule_id=schedule_id, scheduled_for=now, window_end=now)
            session.add(run)
            session.commit()
            assert run.id is not None
            return run.id

    def fire(self, run_id: int) -> None:
        from worker.pipeline.fanout import fire_run

        fire_run(run_id, send=self.enqueuer().send)

    def run(self, run_id: int) -> Run:
        with Session(self.engine) as session:
            run = session.get(Run, run_id)
            assert run is not None
            return run

    def invocations(self, run_id: int) -> list[Invocation]:
        with Session(self.engine) as session:
            stmt = select(Invocation).where(Invocation.run_id == run_id).order_by(Invocation.index)  # type: ignore[arg-type]
            return list(session.execute(stmt).scalars())

    def manifest_deliveries(self, run_id: int, timeout_s: float = 10.0) -> int:
        """The run-level deliveries planned when the run ended (waits for the first to appear)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._count_run_deliveries(run_id) == 0:
            time.sleep(0.1)
        time.sleep(0.5)  # a second end of the run would plan a second set now
        return self._count_run_deliveries(run_id)

    def _count_run_deliveries(self, run_id: int) -> int:
        with Session(self.engine) as session:
            stmt = select(func.count()).where(Delivery.run_id == run_id, Delivery.invocation_id.is_(None))  # type: ignore[arg-type,union-attr]
            return int(session.execute(stmt).scalar() or 0)

    def wait_for_run(self, run_id: int, timeout_s: float = 60.0) -> Run:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run.status in RunStatus.TERMINAL:
                return run
            time.sleep(0.1)
        logs = "\n".join(w.log_tail() for w in self.workers)
        states = [(i.index, i.status, i.attempts, i.error) for i in self.invocations(run_id)][:20]
        raise AssertionError(
            f"run {run_id} not finished in {timeout_s} s: {self.run(run_id)}\n{states}\n{logs}"
        )

    def wait_for_status(self, invocation_id: int, status: InvocationStatus, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with Session(self.engine) as session:
                inv = session.get(Invocation, invocation_id)
                if inv is not None and inv.status is status:
                    return
            time.sleep(0.05)
        raise AssertionError(
            f"invocation {invocation_id} never {status}\n" + "\n".join(w.log_tail() for w in self.workers)
        )


def truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
