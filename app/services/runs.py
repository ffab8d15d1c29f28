"""Runs: a manual run now, backfill runs over a range, and retrying a run's failed invocations.

Every change is committed before its task is sent; a send that fails leaves the row for the beat's
sweep (``enqueued_at`` NULL or old), so nothing is lost when the broker is down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app import constants
from app.api.schemas.runs import InvocationPublic, RunDetail, RunPublic
from app.db import utcnow
from app.enqueue import enqueue_invocations, enqueue_many
from app.models import Invocation, InvocationStatus, Run, RunKind, RunStatus, Schedule
from app.services.common import get_or_404
from app.services.errors import Conflict, InvalidInput
from app.triggers import fire_times_between

RESULT_PATH = "/api/v1/invocations/{id}/result"


def to_public(row: Run) -> RunPublic:
    duration = None
    if row.started_at is not None and row.finished_at is not None:
        duration = (row.finished_at - row.started_at).total_seconds()
    return RunPublic(**row.model_dump(), duration_s=duration)


def to_detail(session: Session, row: Run) -> RunDetail:
    counts = dict.fromkeys(InvocationStatus, 0)
    query = select(Invocation.status, func.count()).where(Invocation.run_id == row.id)
    query = query.group_by(col(Invocation.status))
    for status, n in session.exec(query).all():
        counts[InvocationStatus(status)] = int(n)
    return RunDetail(**to_public(row).model_dump(), counts=counts)


def invocation_public(row: Invocation) -> InvocationPublic:
    url = RESULT_PATH.format(id=row.id) if row.result_location else None
    return InvocationPublic(**row.model_dump(exclude={"result_location"}), result_url=url)


def _mark_enqueued(session: Session, model: Any, ids: list[int]) -> None:
    if ids:
        session.execute(update(model).where(model.id.in_(ids)).values(enqueued_at=utcnow()))
        session.commit()


def send_runs(session: Session, run_ids: list[int]) -> int:
    """Send fire_run for committed PENDING runs; stamp ``enqueued_at`` on success."""
    sent = enqueue_many(constants.TASK_FIRE_RUN, [[run_id] for run_id in run_ids])
    _mark_enqueued(session, Run, run_ids[:sent])
    return sent


def trigger(session: Session, schedule_id: int) -> tuple[Run, bool]:
    """A MANUAL run for now (also for a paused schedule), committed then sent."""
    schedule = get_or_404(session, Schedule, schedule_id, "schedule")
    now = utcnow()
    run = Run(
        schedule_id=schedule_id,
        kind=RunKind.MANUAL,
        status=RunStatus.PENDING,
        scheduled_for=now,
        window_start=schedule.last_fire_at,
        window_end=now,
    )
    session.add(run)
    session.commit()
    assert run.id is not None
    sent = send_runs(session, [run.id]) == 1
    session.refresh(run)
    return run, sent


def backfill(
    session: Session, schedule_id: int, start: datetime, end: datetime, *, limit: int
) -> tuple[list[int], int, bool, int]:
    """BACKFILL runs for each fire time in (start, end], at most ``limit``.

    Returns (new run ids, fire times that already had a backfill run, capped, runs sent).
    Each run's window is the previous fire time (``start`` for the first) to its fire time.
    """
    schedule = get_or_404(session, Schedule, schedule_id, "schedule")
    if end <= start:
        raise InvalidInput("end", "must be after start")
    if end > utcnow():
        raise InvalidInput("end", "must not be in the future")
    fires = fire_times_between(schedule, start, end, limit=limit + 1)
    capped = len(fires) > limit
    fires = fires[:limit]
    existing = set(
        session.exec(
            select(Run.scheduled_for).where(
                Run.schedule_id == schedule_id,
                Run.kind == RunKind.BACKFILL,
                col(Run.scheduled_for) > start,
                col(Run.scheduled_for) <= end,
            )
        ).all()
    )
    runs: list[Run] = []
    previous = start
    for fire in fires:
        if fire not in existing:
            runs.append(
                Run(
                    schedule_id=schedule_id,
                    kind=RunKind.BACKFILL,
                    status=RunStatus.PENDING,
                    scheduled_for=fire,
                    window_start=previous,
                    window_end=fire,
                )
            )
        previous = fire
    session.add_all(runs)
    try:
        session.commit()
    except Exception as exc:
        session.rollback()
        if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
            raise Conflict("a concurrent backfill created some of these runs; try again") from None
        raise
    ids = [run.id for run in runs if run.id is not None]
    sent = send_runs(session, ids)
    return ids, len(fires) - len(runs), capped, sent


def retry_failed(session: Session, run_id: int) -> tuple[Run, int, int]:
    """Reset a run's FAILED invocations (attempts 0, error cleared), reopen the run, send them.

    The reset, the counter change and the run's status change are one transaction; counters move
    in SQL (``failed = failed - n``), never read-modify-write.
    """
    run = get_or_404(session, Run, run_id, "run")
    if run.status in {RunStatus.PENDING, RunStatus.SKIPPED}:
        raise Conflict(f"run {run_id} is {run.status.value}: it has no invocations to retry")
    now = utcnow()
    reset = session.execute(
        update(Invocation)
        .where(col(Invocation.run_id) == run_id, col(Invocation.status) == InvocationStatus.FAILED)
        .values(
            status=InvocationStatus.QUEUED,
            attempts=0,
            error=None,
            last_http_status=None,
            next_attempt_at=None,
            lease_expires_at=None,
            started_at=None,
            finished_at=None,
            enqueued_at=now,
        )
        .returning(col(Invocation.id))
    )
    ids = sorted(int(ident) for ident in reset.scalars().all())
    count = len(ids)
    if not count:
        session.rollback()
        return run, 0, 0
    session.execute(
        update(Run)
        .where(col(Run.id) == run_id)
        .values(
            failed=Run.failed - count,
            status=RunStatus.RUNNING,
            finished_at=None,
            message="",
        )
    )
    session.commit()
    sent = enqueue_invocations(ids)
    session.refresh(run)
    return run, count, sent
