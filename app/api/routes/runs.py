"""``/api/v1/runs`` and ``/api/v1/invocations``: what happened, retrying failures, stored results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlmodel import col, select

from app import constants
from app.api.deps import IdPath, PagingDep, SessionDep
from app.api.errors import ERROR_RESPONSES
from app.api.schemas.common import ErrorOut, Page
from app.api.schemas.runs import InvocationPublic, RetryOut, RunDetail, RunPublic
from app.models import Invocation, InvocationStatus, Run, RunKind, RunStatus
from app.services import runs as service
from app.services.common import get_or_404, page
from app.services.errors import NotFound

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such run or invocation"}
}


@router.get("/runs", response_model=Page[RunPublic])
def list_runs(
    session: SessionDep,
    paging: PagingDep,
    schedule_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: RunStatus | None = None,
    kind: RunKind | None = None,
    since: Annotated[AwareDatetime | None, Query(description="scheduled_for >= since")] = None,
    until: Annotated[AwareDatetime | None, Query(description="scheduled_for < until")] = None,
) -> Page[RunPublic]:
    """Newest scheduled time first (ties by id, newest first)."""
    query = select(Run)
    if schedule_id is not None:
        query = query.where(Run.schedule_id == schedule_id)
    if status is not None:
        query = query.where(Run.status == status)
    if kind is not None:
        query = query.where(Run.kind == kind)
    if since is not None:
        query = query.where(col(Run.scheduled_for) >= since)
    if until is not None:
        query = query.where(col(Run.scheduled_for) < until)
    order = [col(Run.scheduled_for).desc(), col(Run.id).desc()]
    rows, total = page(session, query, order, paging.limit, paging.offset)
    return Page(
        items=[service.to_public(r) for r in rows], total=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND)
def get_run(run_id: IdPath, session: SessionDep) -> RunDetail:
    return service.to_detail(session, get_or_404(session, Run, run_id, "run"))


@router.get("/runs/{run_id}/invocations", response_model=Page[InvocationPublic], responses=NOT_FOUND)
def list_invocations(
    run_id: IdPath, session: SessionDep, paging: PagingDep, status: InvocationStatus | None = None
) -> Page[InvocationPublic]:
    """A run's invocations by index."""
    get_or_404(session, Run, run_id, "run")
    query = select(Invocation).where(Invocation.run_id == run_id)
    if status is not None:
        query = query.where(Invocation.status == status)
    order = [col(Invocation.index), col(Invocation.id)]
    rows, total = page(session, query, order, paging.limit, paging.offset)
    return Page(
        items=[service.invocation_public(r) for r in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.post("/runs/{run_id}/retry-failed", response_model=RetryOut, responses=NOT_FOUND)
def retry_failed(run_id: IdPath, session: SessionDep) -> RetryOut:
    """Run the failed invocations again (attempts reset); the run reopens until they finish."""
    run, retried, sent = service.retry_failed(session, run_id)
    return RetryOut(run=service.to_public(run), retried=retried, enqueued=sent)


@router.get("/invocations/{invocation_id}", response_model=InvocationPublic, responses=NOT_FOUND)
def get_invocation(invocation_id: IdPath, session: SessionDep) -> InvocationPublic:
    return service.invocation_public(get_or_404(session, Invocation, invocation_id, "invocation"))


def _stream(context: Any, handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(constants.INFLUX_STREAM_CHUNK_BYTES):
            yield chunk
    finally:
        context.__exit__(None, None, None)


@router.get(
    "/invocations/{invocation_id}/result",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The stored CSV"}, **NOT_FOUND},
)
def get_result(invocation_id: IdPath, session: SessionDep) -> StreamingResponse:
    """The invocation's stored CSV, streamed (decompressed when stored gzipped)."""
    row = get_or_404(session, Invocation, invocation_id, "invocation")
    session.rollback()
    if not row.result_location:
        raise NotFound("result of invocation", invocation_id)
    from worker.results import ResultNotFound, ResultStoreError, store_for_location

    try:
        store = store_for_location(row.result_location)
        context = store.open(row.result_location, decompress=True)
        handle = context.__enter__()
    except (ResultNotFound, ResultStoreError):
        raise NotFound("result of invocation", invocation_id) from None
    headers = {"Content-Disposition": f'attachment; filename="invocation-{invocation_id}.csv"'}
    return StreamingResponse(_stream(context, handle), media_type="text/csv", headers=headers)
