"""Helpers for the domain operations: fetching by id, paging, unique-name checks."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from app.services.errors import Conflict, NotFound

M = TypeVar("M", bound=SQLModel)


def get_or_404(session: Session, model: type[M], ident: int, resource: str) -> M:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(resource, ident)
    return row


def page(session: Session, query: Any, order_by: list[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """Rows of ``query`` in a stable order, and how many match in all."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = list(session.exec(query.order_by(*order_by).limit(limit).offset(offset)).all())
    return rows, int(total)


def ensure_unique_name(
    session: Session, model: type[M], name: str, own_id: int | None, resource: str
) -> None:
    column = model.name  # type: ignore[attr-defined]
    query = select(model).where(column == name)
    for row in session.exec(query).all():
        if row.id != own_id:  # type: ignore[attr-defined]
            raise Conflict(f"name: a {resource} named {name!r} already exists")
