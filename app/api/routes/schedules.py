"""``/api/v1/schedules``: create, list, get, patch, delete, pause, resume, trigger, backfill, next."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import col, select

from app import constants
from app.api.deps import IdPath, PagingDep, SessionDep
from app.api.errors import ERROR_RESPONSES
from app.api.schemas.common import ErrorOut, Page
from app.api.schemas.runs import TriggerOut
from app.api.schemas.schedules import (
    BackfillIn,
    BackfillOut,
    NextFiresOut,
    ScheduleCreate,
    SchedulePublic,
    ScheduleUpdate,
)
from app.models import Schedule
from app.services import runs as run_service
from app.services import schedules as service
from app.services.common import get_or_404, page
from app.settings import get_settings

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=ERROR_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such schedule"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Name taken, or a concurrent change"}
}


@router.post("", status_code=201, response_model=SchedulePublic, responses=CONFLICT)
def create_schedule(body: ScheduleCreate, session: SessionDep) -> SchedulePublic:
    row = service.create(session, body)
    session.commit()
    return service.to_public(row)


@router.get("", response_model=Page[SchedulePublic])
def list_schedules(
    session: SessionDep,
    paging: PagingDep,
    connection_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    enabled: bool | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
) -> Page[SchedulePublic]:
    query = select(Schedule)
    if connection_id is not None:
        query = query.where(Schedule.connection_id == connection_id)
    if enabled is not None:
        query = query.where(Schedule.enabled == enabled)
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Schedule.name).ilike(f"%{escaped}%", escape="\\"))
    rows, total = page(session, query, [col(Schedule.id)], paging.limit, paging.offset)
    return Page(
        items=[service.to_public(r) for r in rows], total=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/{schedule_id}", response_model=SchedulePublic, responses=NOT_FOUND)
def get_schedule(schedule_id: IdPath, session: SessionDep) -> SchedulePublic:
    return service.to_public(get_or_404(session, Schedule, schedule_id, service.RESOURCE))


@router.patch("/{schedule_id}", response_model=SchedulePublic, responses={**NOT_FOUND, **CONFLICT})
def update_schedule(schedule_id: IdPath, body: ScheduleUpdate, session: SessionDep) -> SchedulePublic:
    row = service.update(session, schedule_id, body)
    session.commit()
    return service.to_public(row)


@router.delete("/{schedule_id}", status_code=204, responses=NOT_FOUND)
def delete_schedule(schedule_id: IdPath, session: SessionDep) -> Response:
    """Delete the schedule with its runs, invocations and deliveries (stored results stay)."""
    service.delete_schedule(session, schedule_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{schedule_id}/pause", response_model=SchedulePublic, responses=NOT_FOUND)
def pause_schedule(schedule_id: IdPath, session: SessionDep) -> SchedulePublic:
    row = service.set_enabled(session, schedule_id, False)
    session.commit()
    return service.to_public(row)


@router.post("/{schedule_id}/resume", response_model=SchedulePublic, responses=NOT_FOUND)
def resume_schedule(schedule_id: IdPath, session: SessionDep) -> SchedulePublic:
    """Enable the schedule; its next fire is the first one after now (missed fires are not run)."""
    row = service.set_enabled(session, schedule_id, True)
    session.commit()
    return service.to_public(row)


@router.post("/{schedule_id}/trigger", status_code=201, response_model=TriggerOut, responses=NOT_FOUND)
def trigger_schedule(schedule_id: IdPath, session: SessionDep) -> TriggerOut:
    """A manual run now (also for a paused schedule)."""
    run, sent = run_service.trigger(session, schedule_id)
    return TriggerOut(run=run_service.to_public(run), enqueued=sent)


@router.post(
    "/{schedule_id}/backfill",
    status_code=201,
    response_model=BackfillOut,
    responses={**NOT_FOUND, **CONFLICT},
)
def backfill_schedule(schedule_id: IdPath, body: BackfillIn, session: SessionDep) -> BackfillOut:
    """One backfill run per fire time in (start, end], at most ``max_backfill_runs`` (reported)."""
    limit = get_settings().max_backfill_runs
    ids, existing, capped, sent = run_service.backfill(
        session, schedule_id, body.start, body.end, limit=limit
    )
    return BackfillOut(
        created=len(ids), existing=existing, capped=capped, limit=limit, run_ids=ids, enqueued=sent
    )


@router.get("/{schedule_id}/next", response_model=NextFiresOut, responses=NOT_FOUND)
def next_fires(
    schedule_id: IdPath,
    session: SessionDep,
    count: Annotated[int, Query(ge=1, le=constants.API_NEXT_COUNT_MAX)] = 5,
) -> NextFiresOut:
    """The next fire times after now, in UTC and in the schedule's zone (also when paused)."""
    return service.next_fires(get_or_404(session, Schedule, schedule_id, service.RESOURCE), count)
