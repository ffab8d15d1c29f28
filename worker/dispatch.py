"""Fire due schedules: claim them, create their Run rows, advance ``next_fire_at``, commit, then enqueue.

One transaction claims at most ``batch`` due schedules through the index on ``next_fire_at``
(``WHERE enabled AND next_fire_at <= now ORDER BY next_fire_at LIMIT batch``): the beat never reads a
schedule that is not due. Several beats at once never fire the same time twice:

* PostgreSQL: the due rows are read ``FOR UPDATE SKIP LOCKED``: a second beat skips the rows the first
  holds, and sees them advanced once the first commits;
* SQLite: the transaction starts with ``BEGIN IMMEDIATE`` (one writer at a time);
* and in any case a Run is unique on (schedule, scheduled_for, kind) and inserted ``ON CONFLICT DO
  NOTHING``, so only the beat whose insert created the row sends it.

Rows are created with ``enqueued_at`` set in the same transaction; messages go out only after the
commit. If the broker refuses, the unsent runs get ``enqueued_at`` back to NULL and the sweep sends
them on a later tick; if the process dies in between, the sweep sends them after
``sweep_requeue_after_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from app import constants, metrics
from app.db import UTCDateTime
from app.models import (
    Delivery,
    DeliveryStatus,
    Invocation,
    InvocationStatus,
    MisfirePolicy,
    OverlapPolicy,
    Run,
    RunKind,
    RunStatus,
    Schedule,
)
from worker.enqueuer import EnqueueError, Enqueuer
from worker.fireplan import Fire, FirePlan, plan_fires

logger = logging.getLogger(__name__)

SCHEDULE = cast(Table, Schedule.__table__)  # type: ignore[attr-defined]
RUN = cast(Table, Run.__table__)  # type: ignore[attr-defined]
INVOCATION = cast(Table, Invocation.__table__)  # type: ignore[attr-defined]
DELIVERY = cast(Table, Delivery.__table__)  # type: ignore[attr-defined]
UNFINISHED_RUN = (RunStatus.PENDING, RunStatus.RUNNING)
_INSERT_CHUNK_ROWS = 1000
OVERLAP_SKIP_MESSAGE = "skipped: the schedule's previous run is unfinished (overlap=skip)"


@dataclass
class FireResult:
    """What one claim did."""

    claimed: int = 0  # schedules read and advanced
    created: int = 0  # runs created to be sent (PENDING)
    skipped: int = 0  # runs created SKIPPED (overlap)
    dropped: int = 0  # missed fire times not run (misfire policy)
    sent: int = 0
    run_ids: list[int] = field(default_factory=list)
    lags_s: list[float] = field(default_factory=list)  # due time -> run created, per run
    full: bool = False  # the batch was full: more schedules may be due right now


Bind = Engine | Connection


@contextmanager
def connected(bind: Bind) -> Iterator[Connection]:
    """The connection ``bind`` is, or a new one from the engine ``bind`` (one pool checkout per tick)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@contextmanager
def write_transaction(bind: Bind) -> Iterator[Connection]:
    """A transaction that commits on success; on SQLite it takes the write lock up front."""
    with connected(bind) as conn:
        if conn.in_transaction():
            conn.commit()
        with conn.begin():
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn


def _insert(conn: Connection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@dataclass(frozen=True)
class DueSchedule:
    """The columns of a due schedule that firing it reads (a :class:`worker.fireplan.FireSpec`)."""

    id: int
    cron: str | None
    interval_s: int | None
    at: datetime | None
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    misfire: MisfirePolicy
    misfire_window_s: int
    overlap: OverlapPolicy
    jitter_s: float
    next_fire_at: datetime | None
    last_fire_at: datetime | None


_DUE_COLUMNS = [f.name for f in fields(DueSchedule)]


@lru_cache(maxsize=8)
def _claim_statement(batch: int) -> Any:
    return (
        select(*(SCHEDULE.c[name] for name in _DUE_COLUMNS))
        .where(SCHEDULE.c.enabled.is_(True), SCHEDULE.c.next_fire_at <= bindparam("now", type_=UTCDateTime()))
        .order_by(SCHEDULE.c.next_fire_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )


def _claim_due(conn: Connection, now: datetime, batch: int) -> list[DueSchedule]:
    return [DueSchedule(**row._mapping) for row in conn.execute(_claim_statement(batch), {"now": now})]


def _busy_schedules(conn: Connection, schedule_ids: Sequence[int]) -> set[int]:
    if not schedule_ids:
        return set()
    stmt = (
        select(RUN.c.schedule_id)
        .where(RUN.c.schedule_id.in_(schedule_ids), RUN.c.status.in_(UNFINISHED_RUN))
        .distinct()
    )
    return {int(row[0]) for row in conn.execute(stmt)}


def _run_row(schedule_id: int, fire: Fire, status: RunStatus, now: datetime) -> dict[str, Any]:
    skipped = status is RunStatus.SKIPPED
    return {
        "schedule_id": schedule_id,
        "kind": RunKind.SCHEDULED,
        "status": status,
        "scheduled_for": fire.scheduled_for,
        "window_start": fire.window_start,
        "window_end": fire.scheduled_for,
        "total": 0,
        "succeeded": 0,
        "failed": 0,
        "message": OVERLAP_SKIP_MESSAGE if skipped else "",
        "created_at": now,
        "enqueued_at": None if skipped else now,
        "started_at": None,
        "finished_at": now if skipped else None,
    }


_RUN_COLUMNS = {
    "schedule_id": "integer",
    "kind": "varchar",
    "status": "varchar",
    "scheduled_for": "timestamptz",
    "window_start": "timestamptz",
    "window_end": "timestamptz",
    "total": "integer",
    "succeeded": "integer",
    "failed": "integer",
    "message": "varchar",
    "created_at": "timestamptz",
    "enqueued_at": "timestamptz",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
}
# PostgreSQL: one statement with one array per column (no per-row SQL text to build and parse).
_PG_UNNEST = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _RUN_COLUMNS.items())
_PG_INSERT_RUNS = text(  # built from the constant column list above, never from input
    f"INSERT INTO run ({', '.join(_RUN_COLUMNS)}) SELECT * FROM unnest({_PG_UNNEST})"  # noqa: S608
    " ON CONFLICT (schedule_id, scheduled_for, kind) DO NOTHING RETURNING id, status"
)
_PG_ADVANCE = text(
    "UPDATE schedule SET next_fire_at = v.nfa, last_fire_at = v.lfa"
    " FROM unnest(CAST(:sid AS integer[]), CAST(:nfa AS timestamptz[]), CAST(:lfa AS timestamptz[]))"
    " AS v(sid, nfa, lfa) WHERE schedule.id = v.sid"
)
_ADVANCE = (
    update(SCHEDULE)
    .where(SCHEDULE.c.id == bindparam("sid"))
    .values(next_fire_at=bindparam("nfa"), last_fire_at=bindparam("lfa"))
)


def _columns(rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


def _insert_runs(conn: Connection, rows: list[dict[str, Any]]) -> list[tuple[int, RunStatus]]:
    """Insert the runs; a run that exists already (same schedule, time and kind) is left alone."""
    created: list[tuple[int, RunStatus]] = []
    postgres = conn.dialect.name == "postgresql"
    stmt = (
        _PG_INSERT_RUNS
        if postgres
        else _insert(conn, RUN)
        .on_conflict_do_nothing(index_elements=["schedule_id", "scheduled_for", "kind"])
        .returning(RUN.c.id, RUN.c.status)
    )
    for start in range(0, len(rows), _INSERT_CHUNK_ROWS):
        chunk = rows[start : start + _INSERT_CHUNK_ROWS]
        if postgres:
            chunk = [{**row, "kind": str(row["kind"]), "status": str(row["status"])} for row in chunk]
            result = conn.execute(stmt, _columns(chunk, list(_RUN_COLUMNS)))
        else:
            result = conn.execute(stmt, chunk)
        created.extend((int(row[0]), RunStatus(row[1])) for row in result)
    return created


def _advance(conn: Connection, advances: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_ADVANCE, _columns(advances, ["sid", "nfa", "lfa"]))
    else:
        conn.execute(_ADVANCE, advances)


def claim_and_create_runs(bind: Bind, now: datetime, *, batch: int) -> FireResult:
    """One transaction: claim up to ``batch`` due schedules, create their runs, advance them."""
    result = FireResult()
    with write_transaction(bind) as conn:
        schedules = _claim_due(conn, now, batch)
        if not schedules:
            return result
        busy = _busy_schedules(conn, [s.id for s in schedules if s.overlap is OverlapPolicy.SKIP])
        rows: list[dict[str, Any]] = []
        advances: list[dict[str, Any]] = []
        for schedule in schedules:
            try:
                plan = plan_fires(schedule, now)
            except Exception:  # a row the API should have refused: it must not stop every other schedule
                logger.exception(
                    "beat: schedule %d has a trigger that cannot be evaluated; not firing it", schedule.id
                )
                plan = FirePlan([], None, schedule.last_fire_at, 0)
            occupied = schedule.id in busy
            for fire in plan.fires:
                skip = schedule.overlap is OverlapPolicy.SKIP and occupied
                rows.append(
                    _run_row(schedule.id, fire, RunStatus.SKIPPED if skip else RunStatus.PENDING, now)
                )
                result.lags_s.append(max(0.0, (now - fire.due_at).total_seconds()))
                occupied = True
            result.dropped += plan.dropped
            advances.append({"sid": schedule.id, "nfa": plan.next_fire_at, "lfa": plan.last_fire_at})
        created = _insert_runs(conn, rows) if rows else []
        _advance(conn, advances)
    result.claimed = len(schedules)
    result.full = len(schedules) >= batch
    result.run_ids = [run_id for run_id, status in created if status is RunStatus.PENDING]
    result.created = len(result.run_ids)
    result.skipped = len(created) - result.created
    return result


def unmark_enqueued(bind: Bind, table: Table, ids: Sequence[int]) -> None:
    """Give rows whose message never went out ``enqueued_at = NULL`` again, so the sweep sends them."""
    if not ids:
        return
    with write_transaction(bind) as conn:
        conn.execute(update(table).where(table.c.id.in_(list(ids))).values(enqueued_at=None))


def send_marked(
    bind: Bind, enqueuer: Enqueuer, table: Table, task_name: str, queue: str, ids: Sequence[int]
) -> int:
    """Send rows already marked enqueued; on a broker error un-mark the unsent ones. Returns how many went."""
    try:
        enqueuer.send(task_name, queue, ids)
    except EnqueueError as exc:
        unmark_enqueued(bind, table, ids[exc.sent :])
        return exc.sent
    return len(ids)


def fire_due_schedules(
    bind: Bind, enqueuer: Enqueuer, now: datetime, *, batch: int = constants.BEAT_CLAIM_BATCH
) -> FireResult:
    """Claim due schedules, create their runs, commit, then send ``fire_run`` for each new PENDING run."""
    result = claim_and_create_runs(bind, now, batch=batch)
    if result.run_ids:
        result.sent = send_marked(
            bind, enqueuer, RUN, constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, result.run_ids
        )
    for lag in result.lags_s:
        metrics.BEAT_LAG_SECONDS.observe(lag)
    if result.skipped:
        metrics.RUNS_TOTAL.labels(status=metrics.label(RunStatus.SKIPPED)).inc(result.skipped)
    if result.claimed:
        logger.info(
            "beat: %d schedule(s) due, %d run(s) sent, %d skipped (overlap), %d missed fire(s) dropped",
            result.claimed,
            result.sent,
            result.skipped,
            result.dropped,
        )
    return result


@dataclass(frozen=True)
class NextDue:
    """The earliest due times the beat acts on (None: nothing of that kind is scheduled)."""

    schedule: datetime | None
    work: datetime | None  # a WAITING invocation or delivery

    @property
    def earliest(self) -> datetime | None:
        present = [value for value in (self.schedule, self.work) if value is not None]
        return min(present) if present else None


_NEXT_DUE = select(
    select(func.min(SCHEDULE.c.next_fire_at)).where(SCHEDULE.c.enabled.is_(True)).scalar_subquery(),
    select(func.min(INVOCATION.c.next_attempt_at))
    .where(INVOCATION.c.status == InvocationStatus.WAITING)
    .scalar_subquery(),
    select(func.min(DELIVERY.c.next_attempt_at))
    .where(DELIVERY.c.status == DeliveryStatus.WAITING)
    .scalar_subquery(),
)


def next_due(bind: Bind) -> NextDue:
    """One indexed query: the next schedule due, and the next waiting invocation or delivery due."""
    with connected(bind) as conn:
        schedule, invocation, delivery = conn.execute(_NEXT_DUE).one()
        conn.rollback()
    waiting = [value for value in (invocation, delivery) if value is not None]
    return NextDue(schedule, min(waiting) if waiting else None)


def next_due_at(bind: Bind) -> datetime | None:
    """The earliest due time of anything the beat acts on: a schedule, a waiting invocation or delivery."""
    return next_due(bind).earliest
