"""``/api/v1/connections``: InfluxDB endpoints (the token is write-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlmodel import col, select

from app.api.deps import IdPath, PagingDep, SessionDep
from app.api.errors import ERROR_RESPONSES
from app.api.schemas.common import ErrorOut, Page
from app.api.schemas.connections import (
    ConnectionCreate,
    ConnectionPublic,
    ConnectionTestOut,
    ConnectionUpdate,
)
from app.models import Connection
from app.services import connections as service
from app.services.common import get_or_404, page

router = APIRouter(prefix="/connections", tags=["connections"], responses=ERROR_RESPONSES)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "No such connection"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Name taken, or the connection is in use"}
}


@router.post("", status_code=201, response_model=ConnectionPublic, responses=CONFLICT)
def create_connection(body: ConnectionCreate, session: SessionDep) -> ConnectionPublic:
    row = service.create(session, body)
    session.commit()
    return service.to_public(row)


@router.get("", response_model=Page[ConnectionPublic])
def list_connections(session: SessionDep, paging: PagingDep) -> Page[ConnectionPublic]:
    rows, total = page(session, select(Connection), [col(Connection.id)], paging.limit, paging.offset)
    return Page(
        items=[service.to_public(r) for r in rows], total=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/{connection_id}", response_model=ConnectionPublic, responses=NOT_FOUND)
def get_connection(connection_id: IdPath, session: SessionDep) -> ConnectionPublic:
    return service.to_public(get_or_404(session, Connection, connection_id, service.RESOURCE))


@router.patch("/{connection_id}", response_model=ConnectionPublic, responses={**NOT_FOUND, **CONFLICT})
def update_connection(connection_id: IdPath, body: ConnectionUpdate, session: SessionDep) -> ConnectionPublic:
    row = service.update(session, connection_id, body)
    session.commit()
    return service.to_public(row)


@router.delete("/{connection_id}", status_code=204, responses={**NOT_FOUND, **CONFLICT})
def delete_connection(connection_id: IdPath, session: SessionDep) -> Response:
    service.delete(session, connection_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{connection_id}/test", response_model=ConnectionTestOut, responses=NOT_FOUND)
def test_connection(connection_id: IdPath, session: SessionDep) -> ConnectionTestOut:
    """Ping the server and list its scripts; ``ok`` is false and each step says what failed."""
    row = get_or_404(session, Connection, connection_id, service.RESOURCE)
    session.rollback()  # no transaction held open during the network calls
    return service.test_connection(row)
