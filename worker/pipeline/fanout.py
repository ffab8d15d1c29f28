"""``fire_run``: expand a run's parameter sets, insert its invocations in bulk, enqueue them in batches.

Idempotent and resumable: the invocation rows are unique on (run_id, index) and inserted with
"on conflict do nothing"; the run moves PENDING -> RUNNING by a conditional UPDATE, so only one caller
fans it out; each batch is moved PENDING -> QUEUED by a conditional UPDATE ... RETURNING before it is
sent, so no invocation is sent twice by two callers. A repeat on a RUNNING run sends what is still
PENDING (a crash between commit and send); what was marked QUEUED but never reached the broker is
found by the beat's sweep.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, Text, bindparam, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app import constants
from app.db import session_scope, utcnow
from app.models import Invocation, InvocationStatus, Run, RunStatus, Schedule
from app.params import ParamError, expand_param_sets, params_hash
from worker.enqueuer import EnqueueError
from worker.pipeline import events

logger = logging.getLogger(__name__)

_TABLE = Invocation.__table__  # type: ignore[attr-defined]
_inv = _TABLE.c
_run = Run.__table__.c  # type: ignore[attr-defined]

Sender = Callable[[str, str, Sequence[int]], None]


@dataclass(frozen=True)
class FanoutResult:
    """What one ``fire_run`` call did: rows inserted by it, invocations it sent, the run's status."""

    inserted: int
    sent: int
    status: RunStatus | None


def fire_run(
    run_id: int, *, send: Sender | None = None, now: Callable[[], datetime] = utcnow
) -> FanoutResult:
    """Fan out run ``run_id`` (see the module docstring). ``send(task, queue, ids)`` publishes a batch."""
    sender = send or events.default_sender()
    inserted, status = _expand(run_id, now())
    if status is None:
        return FanoutResult(0, 0, None)
    if status in RunStatus.TERMINAL:
        if inserted == 0 and status is RunStatus.SUCCEEDED:
            events.run_finished(run_id, status, sender)
        return FanoutResult(inserted, 0, status)
    sent = send_pending(run_id, sender, now=now)
    return FanoutResult(inserted, sent, status)


def _expand(run_id: int, now: datetime) -> tuple[int, RunStatus | None]:
    """Insert the invocations of a PENDING run and make it RUNNING; returns (rows inserted, status)."""
    with session_scope() as session:
        run = session.get(Run, run_id)
        if run is None:
            logger.warning("fire_run: run %s does not exist", run_id)
            return 0, None
        if run.status is not RunStatus.PENDING:
            return 0, RunStatus(run.status)
        schedule = session.get(Schedule, run.schedule_id)
        if schedule is None:  # pragma: no cover - a foreign key guards this
            return 0, _end_empty(session, run_id, now, RunStatus.FAILED, "schedule no longer exists")
        try:
            sets = expand_param_sets(
                list(schedule.params or []),
                dict(schedule.param_matrix or {}),
                window_start=run.window_start,
                window_end=run.window_end or run.scheduled_for,
                scheduled_for=run.scheduled_for,
            )
        except ParamError as exc:
            return 0, _end_empty(session, run_id, now, RunStatus.FAILED, f"invalid params: {exc}")
        if not sets:
            return 0, _end_empty(session, run_id, now, RunStatus.SUCCEEDED, "no parameter sets")
        inserted = insert_invocations(session, run_id, sets)
        moved = session.execute(
            update(Run)
            .where(_run.id == run_id, _run.status == RunStatus.PENDING)
            .values(status=RunStatus.RUNNING, total=len(sets), started_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not moved:  # another fire_run got here first; its rows are the same rows
            session.rollback()
            return 0, RunStatus.RUNNING
        return inserted, RunStatus.RUNNING


def _end_empty(
    session: Session, run_id: int, now: datetime, status: RunStatus, message: str
) -> RunStatus | None:
    moved = session.execute(
        update(Run)
        .where(_run.id == run_id, _run.status == RunStatus.PENDING)
        .values(status=status, total=0, started_at=now, finished_at=now, message=message)
    ).rowcount  # type: ignore[attr-defined]
    return status if moved else None


def insert_invocations(session: Session, run_id: int, sets: list[dict[str, Any]]) -> int:
    """Insert one row per parameter set; rows that exist already are kept. Returns the rows inserted.

    PostgreSQL: ``INSERT ... SELECT FROM unnest(indexes, params, hashes) ON CONFLICT DO NOTHING``, the
    columns sent as three arrays, ``INSERT_CHUNK_ROWS_PG`` rows per statement: one short statement
    instead of a multi-row VALUES text that the driver would parse again for every chunk.
    SQLite: one statement executed with many parameter sets (SQLAlchemy's "insertmanyvalues": multi-row
    ``INSERT ... VALUES ... ON CONFLICT DO NOTHING RETURNING id`` batches of ``INSERT_CHUNK_ROWS``).
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return _insert_postgresql(conn, run_id, sets)
    stmt = sqlite.insert(_TABLE).on_conflict_do_nothing()
    rows = [
        {
            "run_id": run_id,
            "index": index,
            "params": params,
            "params_hash": params_hash(params),
            "status": InvocationStatus.PENDING,
            "attempts": 0,
        }
        for index, params in enumerate(sets)
    ]
    result = conn.execution_options(insertmanyvalues_page_size=constants.INSERT_CHUNK_ROWS).execute(
        stmt.returning(_inv.id), rows
    )
    return len(result.all())


_UNNEST = (
    func.unnest(
        bindparam("p_indexes", type_=postgresql.ARRAY(Integer)),
        bindparam("p_params", type_=postgresql.ARRAY(Text)),
        bindparam("p_hashes", type_=postgresql.ARRAY(Text)),
    )
    .table_valued("i", "p", "h")
    .render_derived(name="t")
)
_INSERT_PG = (
    postgresql.insert(_TABLE)
    .from_select(
        ["run_id", "index", "params", "params_hash", "status", "attempts"],
        select(
            bindparam("p_run_id", type_=Integer),
            _UNNEST.c.i,
            cast(_UNNEST.c.p, JSON),
            _UNNEST.c.h,
            literal(InvocationStatus.PENDING.value),
            literal(0),
        ),
    )
    .on_conflict_do_nothing(index_elements=["run_id", "index"])
    .returning(_inv.id)
)


def _insert_postgresql(conn: Any, run_id: int, sets: list[dict[str, Any]]) -> int:
    inserted = 0
    for start in range(0, len(sets), constants.INSERT_CHUNK_ROWS_PG):
        chunk = sets[start : start + constants.INSERT_CHUNK_ROWS_PG]
        result = conn.execute(
            _INSERT_PG,
            {
                "p_run_id": run_id,
                "p_indexes": list(range(start, start + len(chunk))),
                "p_params": [json.dumps(params) for params in chunk],
                "p_hashes": [params_hash(params) for params in chunk],
            },
        )
        inserted += len(result.all())
    return inserted


def send_pending(run_id: int, send: Sender, *, now: Callable[[], datetime] = utcnow) -> int:
    """Move the run's PENDING invocations to QUEUED and send them, one committed batch at a time.

    Each batch starts after the last index of the one before (every row up to there is QUEUED, by this
    loop or by the sweep): the lookup never walks back over the rows, and their dead versions, that
    the batches before it and the workers have already updated.
    """
    sent = 0
    after = -1
    while True:
        with session_scope() as session:
            batch = (
                select(_inv.id)
                .where(_inv.run_id == run_id, _inv.index > after, _inv.status == InvocationStatus.PENDING)
                .order_by(_inv.index)
                .limit(constants.ENQUEUE_BATCH_SIZE)
                .scalar_subquery()
            )
            rows = session.execute(
                update(Invocation)
                .where(_inv.id.in_(batch), _inv.status == InvocationStatus.PENDING)
                .values(status=InvocationStatus.QUEUED, enqueued_at=now())
                .returning(_inv.id, _inv.index)
            ).all()
        ids = [int(row[0]) for row in rows]
        after = max((int(row[1]) for row in rows), default=after)
        if not ids:
            return sent
        ids.sort()
        try:
            send(constants.TASK_INVOKE, constants.QUEUE_INVOKE, ids)
        except EnqueueError as exc:  # the rows stay QUEUED; the beat's sweep sends them again
            logger.warning(
                "fire_run %s: broker refused a batch after %d sent: %s", run_id, sent + exc.sent, exc
            )
            return sent + exc.sent
        sent += len(ids)
        if len(ids) < constants.ENQUEUE_BATCH_SIZE:  # that was the last PENDING one: spare a query
            return sent
