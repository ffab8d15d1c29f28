"""Deliveries: listed per run and per invocation, a failed one retried, a run's manifest fetched.

``POST /deliveries/{id}/retry`` starts a new attempt series for a FAILED delivery (attempts from 0, a
fresh retry period) with the same ``message_id`` (webhook-id), and sends it now; the beat's sweep sends
it later if the broker is down. It never re-invokes the script.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlmodel import col, select

from app import constants
from app.api.deps import PagingDep, SessionDep
from app.api.errors import ERROR_RESPONSES
from app.api.schemas.common import ErrorOut, Page
from app.db import utcnow
from app.models import Delivery, DeliveryStatus, DestinationKind, Invocation, Run
from app.services.common import get_or_404, page
from app.services.errors import Conflict, NotFound

router = APIRouter(tags=["deliveries"], responses=ERROR_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such run, invocation or delivery"}
}
MANIFEST_DESTINATION_INDEX = -1  # worker.delivery.hooks: the run's manifest into the result store


class DeliveryPublic(BaseModel):
    id: int
    run_id: int
    invocation_id: int | None = Field(description="None for a run-level delivery (manifest, run.completed)")
    destination_index: int = Field(description="Index in the schedule's destinations; -1: the manifest")
    kind: DestinationKind
    status: DeliveryStatus
    message_id: str = Field(description="The webhook-id, the same on every attempt")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    retry_until: datetime | None
    location: str | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryRetryOut(BaseModel):
    delivery: DeliveryPublic
    enqueued: bool = Field(description="Sent to the broker now (else the beat's sweep sends it)")


def _public(row: Delivery) -> DeliveryPublic:
    return DeliveryPublic.model_validate(row, from_attributes=True)


def _page(session: Any, query: Any, paging: Any) -> Page[DeliveryPublic]:
    order = [col(Delivery.invocation_id), col(Delivery.destination_index), col(Delivery.id)]
    rows, total = page(session, query, order, paging.limit, paging.offset)
    return Page(items=[_public(r) for r in rows], total=total, limit=paging.limit, offset=paging.offset)


@router.get("/runs/{run_id}/deliveries", response_model=Page[DeliveryPublic], responses=NOT_FOUND)
def list_run_deliveries(
    run_id: int, session: SessionDep, paging: PagingDep, status: DeliveryStatus | None = None
) -> Page[DeliveryPublic]:
    """Every delivery of a run: its invocations' results and its run-level ones."""
    get_or_404(session, Run, run_id, "run")
    query = select(Delivery).where(Delivery.run_id == run_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    return _page(session, query, paging)


@router.get(
    "/invocations/{invocation_id}/deliveries", response_model=Page[DeliveryPublic], responses=NOT_FOUND
)
def list_invocation_deliveries(
    invocation_id: int, session: SessionDep, paging: PagingDep, status: DeliveryStatus | None = None
) -> Page[DeliveryPublic]:
    """The deliveries of one invocation's result, by destination."""
    get_or_404(session, Invocation, invocation_id, "invocation")
    query = select(Delivery).where(Delivery.invocation_id == invocation_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    return _page(session, query, paging)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryPublic, responses=NOT_FOUND)
def get_delivery(delivery_id: int, session: SessionDep) -> DeliveryPublic:
    return _public(get_or_404(session, Delivery, delivery_id, "delivery"))


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryRetryOut,
    responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "The delivery has not failed"}},
)
def retry_delivery(delivery_id: int, session: SessionDep) -> DeliveryRetryOut:
    """Send a FAILED delivery again: a new attempt series with the same message_id."""
    row = get_or_404(session, Delivery, delivery_id, "delivery")
    now = utcnow()
    c = Delivery.__table__.c  # type: ignore[attr-defined]
    result: Any = session.execute(
        update(Delivery)
        .where(c.id == delivery_id, c.status == DeliveryStatus.FAILED)
        .values(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            retry_until=None,
            next_attempt_at=None,
            finished_at=None,
            lease_expires_at=None,
            enqueued_at=now,
        )
    )
    if not result.rowcount:
        session.rollback()
        raise Conflict(f"delivery {delivery_id} is {row.status.value}: only a failed delivery can be retried")
    session.commit()
    from app.enqueue import enqueue

    sent = enqueue(constants.TASK_DELIVER, [delivery_id])
    session.refresh(row)
    return DeliveryRetryOut(delivery=_public(row), enqueued=sent)


def _stream(context: Any, handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(constants.RESULT_COPY_CHUNK_BYTES):
            yield chunk
    finally:
        context.__exit__(None, None, None)


@router.get(
    "/runs/{run_id}/manifest",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}, "description": "The run's manifest"}, **NOT_FOUND},
)
def get_manifest(run_id: int, session: SessionDep) -> StreamingResponse:
    """The run's manifest (every invocation's params, status, location, rows, bytes, SHA-256)."""
    get_or_404(session, Run, run_id, "run")
    location = session.exec(
        select(Delivery.location).where(
            Delivery.run_id == run_id,
            Delivery.destination_index == MANIFEST_DESTINATION_INDEX,
            Delivery.status == DeliveryStatus.SUCCEEDED,
        )
    ).first()
    session.rollback()
    if not location:
        raise NotFound("manifest of run", run_id)
    from worker.results import ResultStoreError, store_for_location

    try:
        store = store_for_location(location)
        context = store.open(location)
        handle = context.__enter__()
    except ResultStoreError:
        raise NotFound("manifest of run", run_id) from None
    return StreamingResponse(_stream(context, handle), media_type="application/json")
