"""Helpers for the beat's tests: a database with the tables, schedules, a fake enqueuer, a driven clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.db import make_engine
from app.migrations import upgrade
from app.models import Connection, Delivery, DestinationKind, Invocation, Run, RunStatus, Schedule
from app.triggers import next_fire_after
from tests.support.services import postgres_database
from worker.dispatch import fire_due_schedules
from worker.enqueuer import EnqueueError

T0 = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
TABLES = "delivery, invocation, run, schedule, connection"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class FakeEnqueuer:
    """Records every message; ``fail_after`` makes the broker refuse from that many messages on."""

    sent: list[tuple[str, str, int]] = field(default_factory=list)
    fail_after: int | None = None

    def send(self, task_name: str, queue: str, ids: Sequence[int]) -> None:
        for count, row_id in enumerate(ids):
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise EnqueueError("broker down", sent=count)
            self.sent.append((task_name, queue, row_id))

    def ids(self, task_name: str) -> list[int]:
        return [row_id for name, _queue, row_id in self.sent if name == task_name]


def migrated_engine(url: str) -> Engine:
    """An engine on ``url`` with the tables created by the migrations (as in production)."""
    engine = make_engine(url)
    upgrade(engine=engine, url=url)
    return engine


def sqlite_engine(path: str) -> Engine:
    return migrated_engine(f"sqlite:///{path}")


@contextmanager
def postgres_engine() -> Iterator[Engine]:
    """An engine on a throwaway PostgreSQL database with the tables (skips locally when unreachable)."""
    with postgres_database() as url:
        engine = migrated_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        else:
            for table in TABLES.split(", "):
                conn.exec_driver_sql(f"DELETE FROM {table}")


def add_connection(engine: Engine) -> int:
    with Session(engine) as session:
        conn = Connection(name="influx", url="http://127.0.0.1:1", token_encrypted="x")
        session.add(conn)
        session.commit()
        assert conn.id is not None
        return conn.id


def add_schedule(engine: Engine, *, now: datetime = T0, name: str = "s", **fields: Any) -> Schedule:
    """A schedule whose ``next_fire_at`` is computed from ``now`` as the API does."""
    connection_id = fields.pop("connection_id", None) or add_connection_once(engine)
    if not {"cron", "interval_s", "at"} & fields.keys():
        fields["interval_s"] = 60
    schedule = Schedule(name=name, connection_id=connection_id, script_id="script", **fields)
    if "next_fire_at" not in fields:
        schedule.next_fire_at = next_fire_after(schedule, now)
    with Session(engine, expire_on_commit=False) as session:
        session.add(schedule)
        session.commit()
    return schedule


def add_connection_once(engine: Engine) -> int:
    with Session(engine) as session:
        found = session.exec(select(Connection.id)).first()
    return found if found is not None else add_connection(engine)


def get_schedule(engine: Engine, schedule_id: int | None) -> Schedule:
    with Session(engine) as session:
        schedule = session.get(Schedule, schedule_id)
        assert schedule is not None
        return schedule


def update_schedule(engine: Engine, schedule_id: int | None, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(Schedule).where(Schedule.id == schedule_id).values(**values))  # type: ignore[arg-type]


def runs(engine: Engine, schedule_id: int | None = None) -> list[Run]:
    with Session(engine) as session:
        stmt = select(Run).order_by(Run.schedule_id, Run.scheduled_for)  # type: ignore[arg-type]
        if schedule_id is not None:
            stmt = stmt.where(Run.schedule_id == schedule_id)
        return list(session.exec(stmt))


def scheduled_times(engine: Engine, schedule_id: int | None = None) -> list[datetime]:
    return [run.scheduled_for for run in runs(engine, schedule_id) if run.status is not RunStatus.SKIPPED]


def finish_runs(engine: Engine, status: RunStatus = RunStatus.SUCCEEDED) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(Run).where(Run.status.in_([RunStatus.PENDING, RunStatus.RUNNING])).values(status=status)  # type: ignore[attr-defined]
        )


def drive(
    engine: Engine, enqueuer: FakeEnqueuer, until: datetime, *, lateness: timedelta = timedelta(0)
) -> int:
    """Tick exactly when something is due (plus ``lateness``) until ``until``; returns the tick count."""
    ticks = 0
    while True:
        with Session(engine) as session:
            due = session.exec(
                select(Schedule.next_fire_at)
                .where(Schedule.enabled, Schedule.next_fire_at.is_not(None))  # type: ignore[union-attr]
                .order_by(Schedule.next_fire_at)  # type: ignore[arg-type]
            ).first()
        if due is None or due + lateness > until:
            return ticks
        fire_due_schedules(engine, enqueuer, due + lateness)
        ticks += 1


def add_run(engine: Engine, schedule_id: int | None, *, offset_s: int = 0, **fields: Any) -> int:
    """A run of ``schedule_id`` (created at T0 unless told), scheduled ``offset_s`` after T0."""
    fields.setdefault("created_at", T0)
    run = Run(schedule_id=schedule_id or 0, scheduled_for=T0 + timedelta(seconds=offset_s), **fields)
    with Session(engine) as session:
        session.add(run)
        session.commit()
        assert run.id is not None
        return run.id


def add_invocation(engine: Engine, run_id: int, index: int, **fields: Any) -> int:
    invocation = Invocation(run_id=run_id, index=index, params={}, params_hash="h", **fields)
    with Session(engine) as session:
        session.add(invocation)
        session.commit()
        assert invocation.id is not None
        return invocation.id


def add_delivery(engine: Engine, run_id: int, index: int, **fields: Any) -> int:
    fields.setdefault("created_at", T0)
    delivery = Delivery(
        run_id=run_id,
        destination_index=index,
        kind=DestinationKind.WEBHOOK,
        message_id=f"m{run_id}-{index}",
        **fields,
    )
    with Session(engine) as session:
        session.add(delivery)
        session.commit()
        assert delivery.id is not None
        return delivery.id


def get_row(engine: Engine, model: type[Any], row_id: int) -> Any:
    with Session(engine) as session:
        return session.get(model, row_id)
