"""Helpers for the pipeline's tests: rows, a recording sender, a scripted InfluxDB transport, deps."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis
import httpx
from sqlmodel import Session, SQLModel, select

from app.crypto import encrypt_secret
from app.db import get_engine
from app.models import Connection, Invocation, Run, Schedule
from worker.pipeline.invoke import InvokeDeps
from worker.ratelimit import RateLimiter
from worker.results import get_result_store

T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
TOKEN = "influx-secret-token"
CSV_OK = (
    b",result,table,_time,_value\r\n"
    b",_result,0,2026-03-02T11:00:00Z,1\r\n"
    b",_result,0,2026-03-02T11:01:00Z,2\r\n"
    b"\r\n"
)


def create_tables() -> None:
    SQLModel.metadata.create_all(get_engine())


def add_schedule(
    *,
    params: list[dict[str, Any]] | None = None,
    matrix: dict[str, list[Any]] | None = None,
    url: str = "http://influx.test",
    token: str = TOKEN,
    rate_per_s: float | None = None,
    burst: int = 1,
    max_concurrency: int = 8,
    max_attempts: int = 3,
    backoff_base_s: float = 0.1,
    backoff_cap_s: float = 1.0,
    timeout_s: float = 10.0,
    name: str = "sched",
) -> int:
    """A connection and a schedule on it; returns the schedule id."""
    with Session(get_engine()) as session:
        conn = Connection(
            name=f"conn-{name}",
            url=url,
            token_encrypted=encrypt_secret(token),
            rate_per_s=rate_per_s,
            burst=burst,
            max_concurrency=max_concurrency,
        )
        session.add(conn)
        session.flush()
        schedule = Schedule(
            name=name,
            connection_id=conn.id,  # type: ignore[arg-type]
            script_id="0123456789abcdef",
            interval_s=60,
            params=params or [],
            param_matrix=matrix or {},
            max_attempts=max_attempts,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            timeout_s=timeout_s,
        )
        session.add(schedule)
        session.commit()
        assert schedule.id is not None
        return schedule.id


def add_run(schedule_id: int, *, scheduled_for: datetime = T0, window_s: int = 60) -> int:
    with Session(get_engine()) as session:
        run = Run(
            schedule_id=schedule_id,
            scheduled_for=scheduled_for,
            window_start=scheduled_for - timedelta(seconds=window_s),
            window_end=scheduled_for,
        )
        session.add(run)
        session.commit()
        assert run.id is not None
        return run.id


def get_run(run_id: int) -> Run:
    with Session(get_engine()) as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run


def invocations(run_id: int) -> list[Invocation]:
    with Session(get_engine()) as session:
        rows = session.exec(select(Invocation).where(Invocation.run_id == run_id).order_by(Invocation.index))  # type: ignore[arg-type]
        return list(rows)


def get_invocation(invocation_id: int) -> Invocation:
    with Session(get_engine()) as session:
        inv = session.get(Invocation, invocation_id)
        assert inv is not None
        return inv


@dataclass
class RecordingSender:
    """Stands in for the broker: records (task, queue, id) of every message."""

    sent: list[tuple[str, str, int]] = field(default_factory=list)

    def __call__(self, task_name: str, queue: str, ids: Sequence[int]) -> None:
        self.sent.extend((task_name, queue, i) for i in ids)

    def ids(self, task_name: str) -> list[int]:
        return [i for name, _q, i in self.sent if name == task_name]


Responder = Callable[[httpx.Request], httpx.Response]


@dataclass
class ScriptedInflux:
    """An httpx.MockTransport handler: answers invokes from a queue of responders (default: CSV_OK)."""

    responses: list[Responder] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.responses:
            return self.responses.pop(0)(request)
        return ok()(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def params_sent(self) -> list[dict[str, Any]]:
        return [json.loads(r.content or b"{}").get("params", {}) for r in self.requests]


def ok(body: bytes = CSV_OK) -> Responder:
    return lambda _request: httpx.Response(200, content=body, headers={"Content-Type": "text/csv"})


def error(status: int, message: str, *, retry_after: int | None = None) -> Responder:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    code = {400: "invalid", 404: "not found", 429: "too many requests", 500: "internal error"}.get(
        status, "x"
    )
    return lambda _request: httpx.Response(status, json={"code": code, "message": message}, headers=headers)


def error_tail() -> Responder:
    body = CSV_OK + b",error,reference\r\n,runtime error: division by zero,\r\n"
    return ok(body)


@dataclass
class Clock:
    """A settable UTC clock for ``InvokeDeps.now`` (and a recorder of sleeps)."""

    now: datetime = T0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_deps(
    influx: ScriptedInflux,
    results_dir: Path,
    *,
    sender: RecordingSender | None = None,
    limiter: RateLimiter | None = None,
    clock: Clock | None = None,
) -> InvokeDeps:
    clock = clock or Clock()
    return InvokeDeps(
        http=influx.client(),
        limiter=limiter,
        store=get_result_store(f"file://{results_dir}"),
        send=sender or RecordingSender(),
        now=clock,
        sleep=clock.sleep,
        rand=lambda: 0.5,
    )


def fake_limiter(clock: Clock) -> RateLimiter:
    """A limiter on fakeredis whose time follows ``clock``."""
    return RateLimiter(fakeredis.FakeRedis(), clock=lambda: clock.now.timestamp())
